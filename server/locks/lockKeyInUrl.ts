// Lock keys in URLs. A key may hold "/", "?", "#", "%" or be "..", so it travels as one
// base64url path segment of its UTF-8 bytes: no router normalises or splits that. Shared by
// the browser (building links) and the route handler (reading them), so free of Node APIs.

/** base64url (no padding) of the key's UTF-8 bytes. */
export function encodeLockKey(key: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(key)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The key, or null unless `segment` is exactly what encodeLockKey makes of some UTF-8 text. */
export function decodeLockKey(segment: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,1400}$/.test(segment) || segment.length % 4 === 1) return null;
  try {
    const binary = atob(segment.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const key = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // Only the canonical spelling: two URLs must never name the same lock.
    return encodeLockKey(key) === segment ? key : null;
  } catch {
    return null;
  }
}

/** The console URL of a lock's detail API. */
export const lockApiPath = (key: string) => `/api/locks/${encodeLockKey(key)}`;
