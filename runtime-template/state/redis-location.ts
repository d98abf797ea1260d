// Reads a `--state` Redis location: one server (`redis://`, `rediss://`) or a Sentinel set
// (`redis-sentinel://`, `rediss-sentinel://`), with an ACL user, a password and a database number.

export interface RedisNodeAddress {
  host: string;
  port: number;
}

export interface RedisLocation {
  /** `server`: one Redis; `sentinel`: ask these sentinels which node is the master of `masterName`. */
  kind: "server" | "sentinel";
  /** For `server` one address; for `sentinel` the sentinels to ask. */
  nodes: RedisNodeAddress[];
  masterName?: string;
  /** TLS to every node (and every sentinel), verified against the trusted CAs; never optional once asked. */
  tls: boolean;
  username?: string;
  password?: string;
  database: number;
  /** The location without its password, for messages. */
  display: string;
}

export class RedisLocationError extends Error {}

const SCHEMES: Record<string, { kind: RedisLocation["kind"]; tls: boolean; defaultPort: number }> = {
  "redis:": { kind: "server", tls: false, defaultPort: 6379 },
  "rediss:": { kind: "server", tls: true, defaultPort: 6379 },
  "redis-sentinel:": { kind: "sentinel", tls: false, defaultPort: 26379 },
  "rediss-sentinel:": { kind: "sentinel", tls: true, defaultPort: 26379 },
};

/**
 * `redis[s]://[user[:password]@]host[:port][/db]` or
 * `redis[s]-sentinel://[user[:password]@]host[:port][,host[:port]...]/master-name[/db]`.
 * The credentials are those of the Redis nodes; sentinels are asked without credentials.
 */
export function parseRedisLocation(location: string): RedisLocation {
  const match = /^([a-z-]+:)\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?$/.exec(location);
  const scheme = match === null ? undefined : SCHEMES[match[1]!];
  if (match === null || scheme === undefined) throw new RedisLocationError("a Redis location is redis://, rediss://, redis-sentinel:// or rediss-sentinel:// followed by host:port");
  const [, protocol, auth, hosts, path = ""] = match;
  const nodes = hosts!.split(",").map((h) => parseHost(h, scheme.defaultPort));
  if (scheme.kind === "server" && nodes.length !== 1) throw new RedisLocationError(`${protocol}// names one server; list several sentinels with redis-sentinel://`);
  const segments = path.split("/").filter((s) => s !== "");
  let masterName: string | undefined;
  if (scheme.kind === "sentinel") {
    masterName = segments.shift();
    if (masterName === undefined) throw new RedisLocationError("a Sentinel location names its master: redis-sentinel://host:26379/mymaster");
    masterName = decodeURIComponent(masterName);
  }
  if (segments.length > 1) throw new RedisLocationError("a Redis location has at most one database number after the host");
  const database = segments.length === 0 ? 0 : Number(segments[0]);
  if (!Number.isInteger(database) || database < 0 || !/^\d+$/.test(segments[0] ?? "0")) throw new RedisLocationError("the database number must be a whole number (0, 1, 2, …)");
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined) {
    const colon = auth.indexOf(":");
    const user = colon === -1 ? auth : auth.slice(0, colon);
    username = user === "" ? undefined : decodeURIComponent(user);
    password = colon === -1 ? undefined : decodeURIComponent(auth.slice(colon + 1));
    if (password === "") password = undefined;
  }
  const shownAuth = auth === undefined ? "" : `${username === undefined ? "" : encodeURIComponent(username)}${password === undefined ? "" : ":***"}@`;
  return {
    kind: scheme.kind,
    nodes,
    ...(masterName === undefined ? {} : { masterName }),
    tls: scheme.tls,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    database,
    display: `${protocol}//${shownAuth}${hosts}${path}`,
  };
}

function parseHost(text: string, defaultPort: number): RedisNodeAddress {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (match === null) throw new RedisLocationError(`"${text}" is not host or host:port`);
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (port < 1 || port > 65535) throw new RedisLocationError(`port ${port} is out of range`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port };
}
