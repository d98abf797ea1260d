// The local CA of HTTPS interception: minted by `keyrunner ca init`, name-constrained to the hosts of
// the config's https tools, so that even a stolen key signs for nothing else where clients honour the
// constraint (OpenSSL — curl, Python, Node — does). ECDSA P-256 over WebCrypto.

import { randomBytes, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import { AsnConvert, GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, SIGNING, id_ce_nameConstraints, x509 } from "./x509.js";

/** How long a CA made by `ca init` is valid (docs/forward-proxy.md states it). */
export const CA_VALIDITY_DAYS = 365;
const DAY_MS = 86_400_000;

export interface CaPem {
  readonly certPem: string;
  readonly keyPem: string;
}

/** The hosts (DNS names or IP literals) of the https origins this CA may sign for, as they appear in URLs. */
export function constraintOf(hosts: readonly string[]): NameConstraints {
  const names = [...new Set(hosts.map(bareHost))].sort();
  const permitted = names.map((host) => new GeneralSubtree({ base: isIP(host) === 0 ? new GeneralName({ dNSName: host }) : new GeneralName({ iPAddress: `${host}/${isIP(host) === 4 ? 32 : 128}` }) }));
  // Permitting DNS names alone leaves IP addresses unconstrained (RFC 5280 4.2.1.10): exclude them all
  // unless a tool's origin is itself an IP literal.
  const excluded = names.some((h) => isIP(h) !== 0) ? [] : [new GeneralSubtree({ base: new GeneralName({ iPAddress: "0.0.0.0/0" }) }), new GeneralSubtree({ base: new GeneralName({ iPAddress: "::/0" }) })];
  return new NameConstraints({ permittedSubtrees: new GeneralSubtrees(permitted), ...(excluded.length > 0 ? { excludedSubtrees: new GeneralSubtrees(excluded) } : {}) });
}

/** A host as certificates name it: lower case, without IPv6 brackets. */
export function bareHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.startsWith("[") && lower.endsWith("]") ? lower.slice(1, -1) : lower;
}

/** A positive serial number of 16 random bytes, in hex. */
export const randomSerial = (): string => {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString("hex");
};

const pem = (label: string, der: ArrayBuffer) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;

/** A new CA for these hosts, valid from now (less an hour, for clock skew) for CA_VALIDITY_DAYS. */
export async function createCa(hosts: readonly string[], now = new Date()): Promise<CaPem> {
  if (hosts.length === 0) throw new Error("no host to sign for");
  const keys = (await webcrypto.subtle.generateKey(SIGNING, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=KeyRunner local interception CA, O=KeyRunner",
    notBefore: new Date(now.getTime() - 3_600_000),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    keys: keys as unknown as { privateKey: CryptoKey; publicKey: CryptoKey },
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as CryptoKey),
      new x509.Extension(id_ce_nameConstraints, true, AsnConvert.serialize(constraintOf(hosts))),
    ],
  });
  const keyDer = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { certPem: cert.toString("pem") + "\n", keyPem: pem("PRIVATE KEY", keyDer) };
}

/** A CA ready to sign leaves: its certificate, its (non-extractable) key, and what it may sign for. */
export interface LoadedCa {
  readonly cert: InstanceType<typeof x509.X509Certificate>;
  readonly certPem: string;
  readonly key: CryptoKey;
  readonly notAfter: Date;
  /** Whether the CA's name constraints let it sign for this host. */
  permits(host: string): boolean;
}

export class CaError extends Error {}

/** Reads a CA from its PEM texts; the key is imported non-extractable and the PEM text is not kept. */
export async function loadCa(certPem: string, keyPem: string, now = new Date()): Promise<LoadedCa> {
  let cert: InstanceType<typeof x509.X509Certificate>;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch {
    throw new CaError("ca.pem is not a PEM certificate");
  }
  const body = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(keyPem)?.[1];
  let key: CryptoKey;
  try {
    if (body === undefined) throw new Error();
    key = (await webcrypto.subtle.importKey("pkcs8", Buffer.from(body.replace(/\s+/g, ""), "base64"), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])) as unknown as CryptoKey;
  } catch {
    // Never quote the file: it is the key.
    throw new CaError("ca-key.pem is not a PKCS#8 ECDSA P-256 private key");
  }
  const publicKey = await cert.publicKey.export(SIGNING, ["verify"]);
  const probe = new Uint8Array(randomBytes(32));
  const signature = await webcrypto.subtle.sign(SIGNING, key as unknown as webcrypto.CryptoKey, probe);
  if (!(await webcrypto.subtle.verify(SIGNING, publicKey as unknown as webcrypto.CryptoKey, signature, probe))) throw new CaError("ca-key.pem is not the key of ca.pem");
  if (cert.notAfter.getTime() <= now.getTime()) throw new CaError(`the CA expired on ${cert.notAfter.toISOString()}; make a new one with \`keyrunner ca init DIR --force\``);
  if (cert.notBefore.getTime() > now.getTime()) throw new CaError(`the CA is not valid before ${cert.notBefore.toISOString()}`);
  const constraint = cert.getExtension(id_ce_nameConstraints);
  const constraints = constraint === null ? undefined : AsnConvert.parse(constraint.value, NameConstraints);
  return { cert, certPem: cert.toString("pem") + "\n", key, notAfter: cert.notAfter, permits: (host) => permitsHost(constraints, bareHost(host)) };
}

/** RFC 5280 name-constraint matching, for the hosts a leaf would name. */
function permitsHost(constraints: NameConstraints | undefined, host: string): boolean {
  if (constraints === undefined) return true;
  const ip = isIP(host) !== 0;
  const matches = (subtree: GeneralSubtree) => {
    const { dNSName, iPAddress } = subtree.base;
    if (!ip && dNSName !== undefined) {
      const name = dNSName.toLowerCase().replace(/^\./, "");
      return host === name || host.endsWith(`.${name}`);
    }
    if (ip && iPAddress !== undefined) return ipInRange(host, iPAddress);
    return false;
  };
  const kind = (subtree: GeneralSubtree) => (ip ? subtree.base.iPAddress !== undefined : subtree.base.dNSName !== undefined);
  if ([...(constraints.excludedSubtrees ?? [])].some(matches)) return false;
  const permitted = [...(constraints.permittedSubtrees ?? [])].filter(kind);
  return permitted.length === 0 ? true : permitted.some(matches);
}

function ipInRange(address: string, range: string): boolean {
  const [base, prefixText] = range.split("/");
  const family = isIP(address);
  if (family !== isIP(base!)) return false;
  const bits = (text: string) => (family === 4 ? text.split(".").map((p) => Number(p).toString(2).padStart(8, "0")).join("") : expandV6(text));
  const prefix = Number(prefixText);
  return bits(address).slice(0, prefix) === bits(base!).slice(0, prefix);
}

function expandV6(text: string): string {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head === "" ? [] : head!.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, "0")).join("");
}
