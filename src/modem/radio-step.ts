/**
 * The radio policy step of the bring-up (after the SIM, before registration):
 * for each setting of the plan (radio-policy.ts), read it; when it already
 * holds, leave it (no write: Quectel keeps these in NVRAM, and flash wears);
 * else write it and read it back. A modem that answers the write with an
 * error, or does not keep the value, ends the step as `radio-refused`: the
 * policy is the operator's (deny roaming, one network) and dialling against
 * it could cost money. Since every bring-up passes here, the policy is
 * reapplied after every module reset, power cycle or unordered reboot.
 */
import type { RadioSettingResult } from "../core/agent-events.ts";
import type { ModemContext } from "./context.ts";
import { StepFailure } from "./failures.ts";
import { planRadio, type RadioSetting } from "./radio-policy.ts";

export async function applyRadioPolicy(ctx: ModemContext): Promise<void> {
  const plan = planRadio(ctx.config.radio, ctx.profile.radio, ctx.profile.name);
  if (plan.settings.length === 0 && plan.notes.length === 0) return;
  const results: RadioSettingResult[] = [];
  for (const s of plan.settings) results.push(await applyOne(ctx, s));
  const written = results.filter((r) => r.result === "written").length;
  const refused = results.filter((r) => r.result === "refused");
  ctx.emit({
    type: "modem.radio",
    at: ctx.scheduler.now(),
    profile: ctx.profile.id,
    settings: results,
    notes: plan.notes,
    written,
    ok: refused.length === 0,
  });
  for (const n of plan.notes) ctx.log.warn(`radio policy: ${n}`);
  if (refused.length > 0) {
    throw new StepFailure("radio-refused", refused.map((r) => `${r.name}: ${r.detail ?? "refused"}`).join("; "));
  }
}

async function applyOne(ctx: ModemContext, s: RadioSetting): Promise<RadioSettingResult> {
  const base = { name: s.name, wanted: s.wanted };
  if (!s.query) return { ...base, result: "refused", found: null, detail: s.wanted };
  const before = await ctx.at.answered(s.query);
  const lines = before.status === "ok" ? before.lines : [];
  const found = s.read(lines);
  if (found !== null && s.holds(found)) return { ...base, result: "unchanged", found };
  const write = s.write(lines);
  if (write === null) {
    return { ...base, result: "refused", found, detail: `${s.query} answered ${before.status === "ok" ? "nothing readable" : `${before.status} ${before.detail}`.trim()}` };
  }
  const w = await ctx.at.answered(write);
  if (w.status !== "ok") {
    ctx.at.commandFailed(w);
    return { ...base, result: "refused", found, detail: `${write}: ${w.status} ${w.detail}`.trim() };
  }
  const after = await ctx.at.answered(s.query);
  const now = after.status === "ok" ? s.read(after.lines) : null;
  if (now === null || !s.holds(now)) {
    return { ...base, result: "refused", found, detail: `${write} answered OK but ${s.query} reads ${now ?? "nothing readable"}, not ${s.wanted}` };
  }
  ctx.log.info(`radio policy: ${s.name} set to ${s.wanted}`, { was: found });
  return { ...base, result: "written", found };
}
