// Worker threads do not inherit tsx's loader: register it here, then run the TypeScript module
// named by the worker's first argv entry (new Worker(thisFile, { argv: [moduleUrl], ... })).
import { register } from "tsx/esm/api";

register();
await import(process.argv[2]);
