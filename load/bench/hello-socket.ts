/**
 * A raw `ws` connection for the load generators: Hello sent, Welcome awaited, the credit it grants
 * returned. Raw (not IngestClient) so the generators control framing and timing themselves.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import WebSocket from "ws";
import { ClientFrameSchema, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";

export function helloFrame(tenant: string, apiKey: string, clientId: string): Uint8Array {
  return toBinary(
    ClientFrameSchema,
    create(ClientFrameSchema, { frame: { case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant, apiKey, clientId } } }),
  );
}

/** Opens `url`; with `hello` unset (blast mode) resolves on open with unlimited credit. */
export function openHelloSocket(url: string, hello: Uint8Array | undefined): Promise<{ ws: WebSocket; credit: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = "nodebuffer";
    ws.once("error", reject);
    ws.once("open", () => {
      if (!hello) return resolve({ ws, credit: Infinity });
      ws.send(hello);
      ws.once("message", (data: Buffer) => {
        const frame = fromBinary(ServerFrameSchema, data).frame;
        if (frame.case !== "welcome") return reject(new Error(`expected Welcome, got ${frame.case}: ${JSON.stringify(frame.value)}`));
        resolve({ ws, credit: frame.value.credit });
      });
    });
  });
}
