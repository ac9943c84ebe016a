/**
 * A WebSocket for WeirClient's `WebSocket` option that calls `onSent(url)` right after each
 * message it hands to the network: failover tests and benches kill a gateway at a known moment
 * (a batch just sent to it, unanswered) instead of guessing with timers.
 */
import WebSocketNode from "ws";
import type { WebSocketConstructor } from "../../src/client/index.js";

export function tripwireWebSocket(onSent: (url: string) => void): WebSocketConstructor {
  class Tripwire extends WebSocketNode {
    override send(data: Parameters<WebSocketNode["send"]>[0]): void {
      super.send(data);
      onSent(this.url);
    }
  }
  return Tripwire as unknown as WebSocketConstructor;
}
