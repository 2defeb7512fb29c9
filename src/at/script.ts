/**
 * AT scripts as data, after Zephyr's modem_chat: each step is a request, the
 * lines that count as its expected answer, and the script as a whole has abort
 * matches. Running one ends in success, abort or timeout, never an exception.
 */
import type { AtChannel, AtResponse } from "./channel.ts";

export type LineMatch = string | RegExp;

export interface ScriptStep {
  request: string;
  /** A line (intermediate or final) that must be seen; default: the final result OK. */
  expect?: LineMatch;
  timeoutMs?: number;
}

export interface AtScript {
  name: string;
  steps: ScriptStep[];
  /** Any line matching one of these aborts the script (e.g. "ERROR", /^\+CME ERROR/). */
  abort?: LineMatch[];
}

export interface ScriptResult {
  outcome: "success" | "abort" | "timeout";
  /** Index of the step that ended the script (steps.length on success). */
  step: number;
  /** The line that matched an abort, when outcome = abort. */
  matched: string | null;
  responses: AtResponse[];
}

export function lineMatches(line: string, m: LineMatch): boolean {
  return typeof m === "string" ? line === m || line.startsWith(m) : m.test(line);
}

/** The lines of a response including its final result text. */
export function responseLines(r: AtResponse): string[] {
  const final =
    r.status === "ok"
      ? "OK"
      : r.status === "error"
        ? "ERROR"
        : r.status === "cme-error"
          ? `+CME ERROR: ${r.detail}`
          : r.status === "cms-error"
            ? `+CMS ERROR: ${r.detail}`
            : r.status === "connect"
              ? r.detail
                ? `CONNECT ${r.detail}`
                : "CONNECT"
              : r.status === "no-carrier"
                ? "NO CARRIER"
                : r.status === "busy"
                  ? "BUSY"
                  : r.status === "no-answer"
                    ? "NO ANSWER"
                    : r.status === "no-dialtone"
                      ? "NO DIALTONE"
                      : null;
  return final === null ? r.lines : [...r.lines, final];
}

export async function runScript(channel: AtChannel, script: AtScript, defaultTimeoutMs = 300): Promise<ScriptResult> {
  const responses: AtResponse[] = [];
  for (let i = 0; i < script.steps.length; i++) {
    const step = script.steps[i]!;
    const r = await channel.command(step.request, step.timeoutMs ?? defaultTimeoutMs);
    responses.push(r);
    if (r.status === "timeout" || r.status === "aborted") return { outcome: "timeout", step: i, matched: null, responses };
    const lines = responseLines(r);
    for (const line of lines) {
      for (const a of script.abort ?? []) {
        if (lineMatches(line, a)) return { outcome: "abort", step: i, matched: line, responses };
      }
    }
    const expect = step.expect ?? "OK";
    const hit = lines.some((l) => lineMatches(l, expect));
    if (!hit) return { outcome: "abort", step: i, matched: lines[lines.length - 1] ?? null, responses };
  }
  return { outcome: "success", step: script.steps.length, matched: null, responses };
}
