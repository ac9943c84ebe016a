/** One kafkajs admin connection, opened on first use (a failed connect is tried again on the next), closed once. */
import type { Admin, Kafka } from "kafkajs";

export type LazyAdmin = { get(): Promise<Admin>; close(): Promise<void> };

export function lazyAdmin(kafka: Kafka): LazyAdmin {
  let admin: Promise<Admin> | undefined;
  return {
    get() {
      admin ??= (async () => {
        const a = kafka.admin();
        await a.connect();
        return a;
      })().catch((err: unknown) => {
        admin = undefined;
        throw err;
      });
      return admin;
    },
    async close() {
      const opened = await admin?.catch(() => undefined);
      await opened?.disconnect().catch(() => {});
    },
  };
}
