// Node module-resolution hooks of the k6 shim (registered by run.ts with module.register):
//  - maps the k6 module specifiers ("k6", "k6/metrics", ...) to the shim's own files;
//  - refuses the other k6 modules by name, so a script never half-runs;
//  - loads the script and its local modules as ES modules (as k6 does);
//  - gives each VU its own copy of the script's relative imports: a module imported with
//    ?k6vu=N passes that query on to the relative modules it imports (k6 gives every VU its own
//    JavaScript runtime, so module-level state is per VU there too).
let shimModules = {};

export async function initialize(data) {
  shimModules = data.shimModules;
}

export async function resolve(specifier, context, nextResolve) {
  // Resolved through the next hooks (tsx), which then know how to load the shim's .ts files.
  if (Object.hasOwn(shimModules, specifier)) return nextResolve(shimModules[specifier], context);
  if (specifier === "k6" || specifier.startsWith("k6/")) {
    throw new Error(`module "${specifier}" is not implemented by the Node k6 shim (it has: ${Object.keys(shimModules).join(", ")})`);
  }
  if (/^https?:/.test(specifier)) throw new Error(`remote module "${specifier}": the Node k6 shim loads local files only`);
  const resolved = await nextResolve(specifier, context);
  const parent = context.parentURL ? new URL(context.parentURL) : undefined;
  const vu = parent?.searchParams.get("k6vu");
  if (vu != null && (specifier.startsWith("./") || specifier.startsWith("../")) && resolved.url.startsWith("file:")) {
    const url = new URL(resolved.url);
    url.searchParams.set("k6vu", vu);
    return { ...resolved, url: url.href };
  }
  return resolved;
}

// k6 runs every script and local module as an ES module, wherever it lives; Node would take a
// .js file outside a "type": "module" package for CommonJS.
export async function load(url, context, nextLoad) {
  if (url.startsWith("file:") && new URL(url).searchParams.has("k6vu")) return nextLoad(url, { ...context, format: "module" });
  return nextLoad(url, context);
}
