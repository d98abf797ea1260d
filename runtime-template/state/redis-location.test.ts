// Redis `--state` locations: URL forms, credentials, databases, Sentinel, TLS.
import { describe, expect, it } from "vitest";
import { parseRedisLocation } from "./redis-location.js";
import { isRedisUrl } from "./state-store.js";

describe("Redis locations", () => {
  it.each([
    ["one server, defaults", "redis://10.0.0.5", { kind: "server", nodes: [{ host: "10.0.0.5", port: 6379 }], tls: false, database: 0, display: "redis://10.0.0.5" }],
    ["TLS, an ACL user, a database", "rediss://app:s3cr%40t@redis.internal:6380/4", { kind: "server", nodes: [{ host: "redis.internal", port: 6380 }], tls: true, username: "app", password: "s3cr@t", database: 4, display: "rediss://app:***@redis.internal:6380/4" }],
    ["a password without a user (requirepass)", "redis://:pw@127.0.0.1:7000", { password: "pw", display: "redis://:***@127.0.0.1:7000" }],
    ["an IPv6 literal", "redis://[::1]:7001/2", { nodes: [{ host: "::1", port: 7001 }], database: 2 }],
    ["sentinels, master name and database", "redis-sentinel://app:pw@s1:26379,s2,10.0.0.9:26400/mymaster/1", { kind: "sentinel", nodes: [{ host: "s1", port: 26379 }, { host: "s2", port: 26379 }, { host: "10.0.0.9", port: 26400 }], masterName: "mymaster", tls: false, username: "app", password: "pw", database: 1, display: "redis-sentinel://app:***@s1:26379,s2,10.0.0.9:26400/mymaster/1" }],
    ["sentinels over TLS", "rediss-sentinel://s1/cache", { kind: "sentinel", tls: true, masterName: "cache", database: 0 }],
  ])("%s", (_name, location, expected) => {
    expect(parseRedisLocation(location)).toMatchObject(expected);
  });

  it.each([
    ["an unknown scheme", "redis+tls://h", /redis:\/\/, rediss:\/\/, redis-sentinel:\/\/ or rediss-sentinel:\/\//],
    ["two hosts for one server", "redis://a,b", /names one server; list several sentinels with redis-sentinel:\/\//],
    ["a Sentinel location without its master", "redis-sentinel://s1:26379", /names its master/],
    ["a database that is not a number", "redis://h/cache", /database number must be a whole number/],
    ["a negative database", "redis://h/-1", /database number must be a whole number/],
    ["a port out of range", "redis://h:70000", /port 70000 is out of range/],
    ["a query string", "redis://h?tls=1", /followed by host:port/],
  ])("refuses %s", (_name, location, message) => {
    expect(() => parseRedisLocation(location)).toThrow(message);
  });

  it("never shows the password, even in a refusal", () => {
    expect(() => parseRedisLocation("redis://u:topsecret@h:99999")).toThrow(/^(?!.*topsecret)/);
  });

  it.each([
    ["redis://h", true],
    ["rediss://h", true],
    ["redis-sentinel://h/m", true],
    ["rediss-sentinel://h/m", true],
    ["./keyrunner-state", false],
    ["/var/lib/redis-state", false],
  ])("%s is a Redis location: %s", (location, expected) => {
    expect(isRedisUrl(location)).toBe(expected);
  });
});
