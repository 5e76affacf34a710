// Helpers shared by the browser tests (viewer, medications, labs, adt): environment and
// the authenticator app's one-time codes.

import { createHmac } from "node:crypto";

export function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`environment variable ${name} is not set`);
    process.exit(2);
  }
  return v;
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as an authenticator app computes it. `step` moves
// to a later window: codes are single-use, so a second sign-in of the same user needs the
// next window's code.
export function totp(secretBase32, step = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secretBase32.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`bad base32 character ${c}`);
    bits += i.toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Math.floor(Date.now() / 1000 / 30) + step;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = createHmac("sha1", key).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = (h.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}
