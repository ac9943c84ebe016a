/** Waits for `p` at most `ms`: "ok", the rejection's error, or "timeout" (p keeps running). */
export async function raceTimeout(p: Promise<unknown>, ms: number): Promise<"ok" | "timeout" | Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  try {
    return await Promise.race([
      p.then(
        () => "ok" as const,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
