// Xenstore path rules, as cxenstored checks them (xenstored_core.c:
// is_valid_nodename, canonicalize, get_parent, is_child).

import { XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX } from '../../abi/xs_wire.ts';

/** Only these bytes may appear in a node name (cxenstored's valid_chars). */
const VALID = /^[A-Za-z0-9\-/_@]*$/;
/** `sscanf(node, "/local/domain/%5u/%n")`: the home prefix not counted against the relative limit. */
const LOCAL = /^\/local\/domain\/\+?\d{1,5}\//;

export function homePath(domid: number): string {
  return `/local/domain/${domid >>> 0}`;
}

/**
 * Relative paths (not starting with `/` or `@`) live under the connection's
 * home. Socket connections are dom0, so `a/b` → `/local/domain/0/a/b`.
 */
export function canonicalize(domid: number, path: string): string {
  const c = path.charCodeAt(0);
  if (c === 47 /* / */ || c === 64 /* @ */) return path;
  return `${homePath(domid)}/${path}`;
}

export function isRelative(path: string): boolean {
  const c = path.charCodeAt(0);
  return c !== 47 && c !== 64;
}

/**
 * Absolute path validity: starts with `/`, no trailing `/` (except `/`), no
 * `//`, only valid chars, at most 2048 bytes past a `/local/domain/N/` prefix
 * and 3072 in all. Specials (`@…`) are accepted only where the caller allows.
 */
export function isValidNodename(path: string, allowSpecial = false): boolean {
  if (path.length === 0) return false;
  if (path.charCodeAt(0) === 64) return allowSpecial && path.length <= XENSTORE_REL_PATH_MAX && VALID.test(path);
  if (path.charCodeAt(0) !== 47) return false;
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 47) return false;
  if (path.includes('//')) return false;
  if (path.length > XENSTORE_ABS_PATH_MAX) return false;
  let localOff = 0;
  if (path.length > XENSTORE_REL_PATH_MAX) {
    const m = LOCAL.exec(path);
    if (m) localOff = m[0].length;
    if (path.length - localOff > XENSTORE_REL_PATH_MAX) return false;
  }
  return VALID.test(path);
}

export function isSpecial(path: string): boolean {
  return path.charCodeAt(0) === 64;
}

/** Parent of an absolute path; `/` has none. */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** cxenstored's is_child: `child` is `parent` or below it; everything is below `/`. */
export function isChild(child: string, parent: string): boolean {
  if (parent === '/') return true;
  if (!child.startsWith(parent)) return false;
  return child.length === parent.length || child.charCodeAt(parent.length) === 47;
}
