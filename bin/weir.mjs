#!/usr/bin/env node
// Weir ships TypeScript sources and runs them through tsx's loader (no build step).
import { register } from "tsx/esm/api";

register();
await import("../gateway/cli/main.ts");
