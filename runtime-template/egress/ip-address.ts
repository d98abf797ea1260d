// Classifies IP addresses for egress: which ranges a tool may never reach unless its own origin is
// literally such a host (loopback, private, link-local, CGNAT, metadata, IPv4-mapped/embedded IPv6).

import { isIP } from "node:net";

export type AddressClass = "public" | "loopback" | "private" | "link-local" | "cgnat" | "metadata" | "unspecified" | "reserved";

function ipv4Bytes(address: string): number[] | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map(Number);
  return bytes.every((b, i) => Number.isInteger(b) && b >= 0 && b <= 255 && /^\d+$/.test(parts[i]!)) ? bytes : undefined;
}

export function classifyIPv4(address: string): AddressClass {
  const b = ipv4Bytes(address);
  if (b === undefined) return "reserved";
  const [a, c] = [b[0]!, b[1]!];
  if (a === 0) return "unspecified";
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168)) return "private";
  if (a === 169 && c === 254) return b[2] === 169 && b[3] === 254 ? "metadata" : "link-local";
  if (a === 100 && c >= 64 && c <= 127) return "cgnat";
  if (a === 192 && c === 0 && b[2] === 0) return "reserved";
  if (a === 198 && (c === 18 || c === 19)) return "reserved";
  if (a >= 224) return "reserved";
  return "public";
}

/** Expands an IPv6 address into eight 16-bit groups. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.replace(/^\[|\]$/g, "").split("%")[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const b = ipv4Bytes(dotted[1]!);
    if (b === undefined) return undefined;
    text = `${text.slice(0, dotted.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? left.length !== 8 : missing < 1) return undefined;
  const groups = [...left, ...Array(tail === undefined ? 0 : missing).fill("0"), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

export function classifyIPv6(address: string): AddressClass {
  const g = ipv6Groups(address);
  if (g === undefined) return "reserved";
  const embedded = (hi: number, lo: number) => classifyIPv4(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  if (g.every((x) => x === 0)) return "unspecified";
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return "loopback";
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d: judged by the IPv4 address inside.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return embedded(g[6]!, g[7]!);
  // NAT64 64:ff9b::/96 and 6to4 2002::/16 embed an IPv4 address too.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return embedded(g[6]!, g[7]!);
  if (g[0] === 0x2002) return embedded(g[1]!, g[2]!);
  if (g[0] === 0xfd00 && g[1] === 0xec2 && g.slice(2, 7).every((x) => x === 0) && g[7] === 0x254) return "metadata";
  if ((g[0]! & 0xfe00) === 0xfc00) return "private";
  if ((g[0]! & 0xffc0) === 0xfe80) return "link-local";
  if ((g[0]! & 0xff00) === 0xff00) return "reserved";
  return "public";
}

export function classifyAddress(address: string): AddressClass {
  const family = isIP(address.replace(/^\[|\]$/g, ""));
  if (family === 4) return classifyIPv4(address);
  if (family === 6) return classifyIPv6(address);
  return "reserved";
}

/** Whether a URL host is an IP literal (bracketed for IPv6). */
export function isIpLiteral(host: string): boolean {
  return isIP(host.replace(/^\[|\]$/g, "")) !== 0;
}
