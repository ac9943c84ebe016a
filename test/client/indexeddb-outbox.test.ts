/**
 * IndexedDbOutbox in real headless Chromium: src/client/indexeddb-outbox.ts bundled with esbuild
 * for the browser, served from a local http origin (IndexedDB needs one; about:blank and data:
 * URLs have none). Appends and removes survive a page reload (the page goes away without
 * closing the outbox) and a close/reopen; a second tab cannot open the same outbox.
 * Needs Chromium (WEIR_CHROMIUM overrides /usr/bin/chromium).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "vitest";
import { entryAt } from "./fixtures/outbox-data.js";

const CHROMIUM = process.env.WEIR_CHROMIUM ?? "/usr/bin/chromium";

let server: Server;
let origin: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;

/** An entry as it crosses page.evaluate: bytes as a number array. */
type Wire = { id: string; bytes: number[] };
const wire = (from: number, to: number): Wire[] =>
  Array.from({ length: to - from }, (_, k) => {
    const e = entryAt(from + k);
    return { id: e.id, bytes: Array.from(e.bytes) };
  });

const PAGE = `<!doctype html><meta charset="utf-8"><title>outbox</title>
<script type="module">
  import { IndexedDbOutbox } from "/outbox.js";
  const toEntries = (ws) => ws.map((w) => ({ id: w.id, bytes: Uint8Array.from(w.bytes) }));
  const toWire = (es) => es.map((e) => ({ id: e.id, bytes: Array.from(e.bytes), isU8: e.bytes instanceof Uint8Array }));
  window.t = { IndexedDbOutbox, toEntries, toWire, open: {} };
  window.ready = true;
</script>`;

beforeAll(async () => {
  const launching = chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  const bundle = await build({
    entryPoints: [new URL("../../src/client/indexeddb-outbox.ts", import.meta.url).pathname],
    write: false,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
  });
  const js = bundle.outputFiles[0]!.text;
  server = createServer((req, res) => {
    if (req.url === "/outbox.js") res.writeHead(200, { "content-type": "text/javascript" }).end(js);
    else if (req.url === "/") res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launching;
  context = await browser.newContext();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
}, 30_000);

beforeEach(async () => {
  page = await context.newPage();
  await goto(page);
});

afterEach(async () => {
  await page?.close();
});

async function goto(p: Page): Promise<void> {
  await p.goto(origin);
  await p.waitForFunction(() => (globalThis as unknown as { ready?: boolean }).ready === true);
}

// The page's globals, as seen from evaluate callbacks (which run in the page, not here).
type Entry = { id: string; bytes: Uint8Array };
type PageOutbox = {
  load(): Promise<Entry[]>;
  append(entries: Entry[]): Promise<void>;
  remove(ids: string[]): Promise<void>;
  close(): Promise<void>;
  readonly size: number;
};
type T = {
  IndexedDbOutbox: { open(name?: string): Promise<PageOutbox> };
  toEntries(ws: Wire[]): Entry[];
  toWire(es: Entry[]): Array<Wire & { isU8: boolean }>;
  open: Record<string, PageOutbox>;
};
declare const t: T;

const stripU8 = (ws: Array<Wire & { isU8: boolean }>): Wire[] => {
  for (const w of ws) expect(w.isU8).toBe(true);
  return ws.map(({ id, bytes }) => ({ id, bytes }));
};

test("appends and removes survive a page reload (no close) and a close/reopen, in append order", async () => {
  const first = wire(0, 10);
  const second = wire(10, 20);
  const loaded = await page.evaluate(
    async ({ first, second }) => {
      const o = await t.IndexedDbOutbox.open("reload");
      t.open.reload = o;
      await o.append(t.toEntries(first));
      await o.append(t.toEntries(second));
      await o.remove(["e3", "e12", "not-there"]);
      return { entries: t.toWire(await o.load()), size: o.size };
    },
    { first, second },
  );
  const expected = [...wire(0, 3), ...wire(4, 12), ...wire(13, 20)];
  expect(stripU8(loaded.entries)).toEqual(expected);
  expect(loaded.size).toBe(18);

  await page.reload(); // the page goes away with the outbox open, as a closed tab or a crash would
  await page.waitForFunction(() => (globalThis as unknown as { ready?: boolean }).ready === true);
  const afterReload = await page.evaluate(async () => {
    const o = await t.IndexedDbOutbox.open("reload");
    t.open.reload = o;
    return { entries: t.toWire(await o.load()), size: o.size };
  });
  expect(stripU8(afterReload.entries)).toEqual(expected);
  expect(afterReload.size).toBe(18);

  const more = wire(20, 23);
  const afterReopen = await page.evaluate(
    async ({ more }) => {
      const o = t.open.reload!;
      await o.remove(["e0", "e19"]); // ids known from the open after the reload
      await o.append(t.toEntries(more));
      await o.close();
      const closedError = await o.append(t.toEntries(more)).then(
        () => "no error",
        (err: Error) => `${err.name}: ${err.message}`,
      );
      const again = await t.IndexedDbOutbox.open("reload");
      const entries = t.toWire(await again.load());
      const secondLoad = t.toWire(await again.load());
      await again.close();
      return { entries, secondLoad, closedError };
    },
    { more },
  );
  const final = [...expected.filter((e) => e.id !== "e0" && e.id !== "e19"), ...more];
  expect(stripU8(afterReopen.entries)).toEqual(final);
  expect(stripU8(afterReopen.secondLoad)).toEqual(final);
  expect(afterReopen.closedError).toMatch(/WeirOutboxError: outbox reload is closed/);
}, 30_000);

test("concurrent appends and removes, none awaited before the next: the state is the calls' order", async () => {
  const batches = Array.from({ length: 24 }, (_, b) => wire(b * 5, b * 5 + 5));
  const result = await page.evaluate(
    async ({ batches }) => {
      const o = await t.IndexedDbOutbox.open("concurrent");
      const calls: Array<Promise<void>> = [];
      batches.forEach((batch, b) => {
        calls.push(o.append(t.toEntries(batch)));
        // Remove the first two of the batch just appended: only right if the remove runs after the append.
        calls.push(o.remove(batch.slice(0, 2).map((w) => w.id)));
        if (b % 4 === 3) calls.push(o.remove(batches[b - 1]!.map((w) => w.id)));
      });
      await Promise.all(calls);
      const live = t.toWire(await o.load()).map((w) => w.id);
      await o.close();
      const reopened = await t.IndexedDbOutbox.open("concurrent");
      const again = t.toWire(await reopened.load()).map((w) => w.id);
      await reopened.close();
      return { live, again };
    },
    { batches },
  );
  const expected = batches.flatMap((batch, b) => (b % 4 === 2 ? [] : batch.slice(2).map((w) => w.id)));
  expect(result.live).toEqual(expected);
  expect(result.again).toEqual(expected);
}, 30_000);

test("stores exactly an entry's bytes when they are a view into a larger buffer", async () => {
  const stored = await page.evaluate(async () => {
    const big = new Uint8Array(1000).map((_, k) => k & 0xff);
    const o = await t.IndexedDbOutbox.open("views");
    await o.append([{ id: "v", bytes: big.subarray(10, 14) }]);
    await o.close();
    const again = await t.IndexedDbOutbox.open("views");
    const [e] = await again.load();
    await again.close();
    return { bytes: Array.from(e!.bytes), bufferBytes: e!.bytes.buffer.byteLength };
  });
  expect(stored).toEqual({ bytes: [10, 11, 12, 13], bufferBytes: 4 });
}, 30_000);

test("one writer: a second tab cannot open an outbox that is open; it can once the first closes", async () => {
  await page.evaluate(async () => {
    t.open.shared = await t.IndexedDbOutbox.open("shared");
  });
  const other = await context.newPage();
  await goto(other);
  const tryOpen = () =>
    other.evaluate(async () => {
      try {
        const o = await t.IndexedDbOutbox.open("shared");
        await o.close();
        return "opened";
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
    });
  expect(await tryOpen()).toBe("WeirOutboxError: outbox shared in use by another tab or worker");
  await page.evaluate(() => t.open.shared!.close());
  expect(await tryOpen()).toBe("opened");
  await other.close();
}, 30_000);
