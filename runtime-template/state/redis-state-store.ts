// The shared state store: counters and approvals in Redis, so several bundle replicas share one count
// and one approval queue. Each decision is one Lua script, which Redis runs atomically.

import { connectRedis, type RedisConnection, type RedisConnectionOptions } from "./redis-client.js";
import { parseRedisLocation, RedisLocationError } from "./redis-location.js";
import { StateUnavailable, type Approval, type ApprovalStatus, type Reservation, type ReserveResult, type StateStore } from "./state-store.js";

const PREFIX = "keyrunner:";

// KEYS: counter keys. ARGV: now_ms, then amount, max, window_seconds for each key.
const RESERVE = `
local now = tonumber(ARGV[1])
local plans = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[2 + (i - 1) * 3])
  local max = tonumber(ARGV[3 + (i - 1) * 3])
  local size = tonumber(ARGV[4 + (i - 1) * 3]) * 1000
  local start = math.floor(now / size) * size
  local windowed = key .. ':' .. string.format('%d', start)
  local used = tonumber(redis.call('GET', windowed) or '0')
  if used + amount > max then
    return {0, i, tostring(used), math.max(1, math.ceil((start + size - now) / 1000))}
  end
  plans[i] = {windowed, amount, start + size}
end
for _, plan in ipairs(plans) do
  redis.call('INCRBYFLOAT', plan[1], plan[2])
  redis.call('PEXPIREAT', plan[1], plan[3] + 60000)
end
return {1}
`;

// KEYS[1]: approval key. ARGV: allowed statuses (comma list), new status, JSON of fields to merge.
const TRANSITION = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local approval = cjson.decode(raw)
local allowed = false
for status in string.gmatch(ARGV[1], '[^,]+') do
  if approval.status == status then allowed = true end
end
if not allowed then return false end
for k, v in pairs(cjson.decode(ARGV[3])) do approval[k] = v end
approval.status = ARGV[2]
local encoded = cjson.encode(approval)
redis.call('SET', KEYS[1], encoded, 'KEEPTTL')
return encoded
`;

export class RedisStateStore implements StateStore {
  readonly #client: RedisConnection;

  /** Starts connecting at once; a location that cannot be read is refused here (StateUnavailable). */
  constructor(url: string, options: RedisConnectionOptions = {}) {
    let location;
    try {
      location = parseRedisLocation(url);
    } catch (error) {
      if (error instanceof RedisLocationError) throw new StateUnavailable(`--state: ${error.message}`);
      throw error;
    }
    this.#client = connectRedis(location, options);
  }

  #call(...args: Array<string | number>): Promise<unknown> {
    return this.#client.send(args.map(String));
  }

  async reserve(reservations: readonly Reservation[], nowMs: number): Promise<ReserveResult> {
    const keys = reservations.map((r) => `${PREFIX}usage:${r.key}`);
    const args = reservations.flatMap((r) => [r.amount, r.max, r.windowSeconds]);
    const reply = (await this.#call("EVAL", RESERVE, keys.length, ...keys, nowMs, ...args)) as Array<number | string>;
    if (reply[0] === 1) return { ok: true };
    return { ok: false, index: Number(reply[1]) - 1, used: Number(reply[2]), retryAfterSeconds: Number(reply[3]) };
  }

  async createApproval(approval: Approval): Promise<void> {
    const ttl = Math.max(1, Math.ceil((approval.expiresAt - Date.now()) / 1000)) + 7 * 86400;
    await this.#call("SET", `${PREFIX}approval:${approval.id}`, JSON.stringify(approval), "EX", ttl);
    await this.#call("SADD", `${PREFIX}approvals`, approval.id);
  }

  async getApproval(id: string): Promise<Approval | undefined> {
    const raw = (await this.#call("GET", `${PREFIX}approval:${id}`)) as string | null;
    return raw === null ? undefined : (JSON.parse(raw) as Approval);
  }

  async transitionApproval(id: string, from: readonly ApprovalStatus[], to: ApprovalStatus, fields: Partial<Approval> = {}): Promise<Approval | undefined> {
    const raw = (await this.#call("EVAL", TRANSITION, 1, `${PREFIX}approval:${id}`, from.join(","), to, JSON.stringify(fields))) as string | null;
    return raw === null ? undefined : (JSON.parse(raw) as Approval);
  }

  async listApprovals(): Promise<Approval[]> {
    const ids = ((await this.#call("SMEMBERS", `${PREFIX}approvals`)) as string[]).sort();
    const out: Approval[] = [];
    for (const id of ids) {
      const approval = await this.getApproval(id);
      if (approval === undefined) await this.#call("SREM", `${PREFIX}approvals`, id);
      else out.push(approval);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
