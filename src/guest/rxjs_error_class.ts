// rxjs's createErrorClass (rxjs 7: src/internal/util/createErrorClass.ts),
// written for a host of many realms. The kernel bundler
// (src/machine/kernels.ts) resolves rxjs's own module to this one.
//
// rxjs makes each error class's prototype with Object.create(Error.prototype)
// and then assigns `prototype.constructor`. By then the object is a
// function's prototype, and V8 treats a store of "constructor" on a
// prototype as a possible change of Array's @@species: it checks whether the
// object is the Array.prototype of any realm by walking the isolate's list of
// every native context (v8: src/objects/lookup.cc,
// LookupIterator::InternalUpdateProtector, Isolate::IsInAnyContext). Each
// guest is a realm and evaluates rxjs once at boot, so with 10,000 domains
// running every `xl create` paid tens of thousands of context visits per
// error class (bench/scale.ts: CPU per create tripled between 3,000 and 7,000
// domains). Here `constructor` is a property of the new object before it
// becomes a prototype: same object shape and attributes, no walk.

/** The class `createImpl` returns, its instances Errors (stack taken at construction, as rxjs does). */
export function createErrorClass<T>(createImpl: (_super: (instance: unknown) => void) => T): T {
  const _super = (instance: unknown): void => {
    Error.call(instance);
    (instance as { stack?: string }).stack = new Error().stack;
  };
  const ctorFunc = createImpl(_super) as T & { prototype: object };
  ctorFunc.prototype = Object.create(Error.prototype, {
    // What `ctorFunc.prototype.constructor = ctorFunc` would make: a writable, enumerable, configurable data property.
    constructor: { value: ctorFunc, writable: true, enumerable: true, configurable: true },
  }) as object;
  return ctorFunc;
}
