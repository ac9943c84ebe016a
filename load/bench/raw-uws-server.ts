/**
 * The raw receive limit: a bare uWebSockets.js server with the gateway's socket settings that
 * only counts messages. Run as a child process; prints its port, then "count <frames> <bytes>"
 * when it receives SIGUSR2 (and on exit).
 */
import uWS from "uWebSockets.js";

let frames = 0;
let bytes = 0;
const app = uWS.App().ws("/*", {
  compression: uWS.DISABLED,
  maxPayloadLength: 8 * 1024 * 1024,
  idleTimeout: 120,
  message: (_ws, message) => {
    frames++;
    bytes += message.byteLength;
  },
});
app.listen("127.0.0.1", 0, (token) => {
  if (!token) process.exit(1);
  process.stdout.write(`port ${uWS.us_socket_local_port(token)}\n`);
});
const report = () => process.stdout.write(`count ${frames} ${bytes}\n`);
process.on("SIGUSR2", report);
process.on("SIGTERM", () => {
  report();
  process.exit(0);
});
