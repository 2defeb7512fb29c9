/**
 * The RFC 1661 §4.1 state transition table as a fixture, transcribed from the
 * RFC text (including its p/r/x option marks, which are stripped). Every
 * (state, event) pair is checked twice: against the lookup `transition()`, and
 * by driving a real Fsm into the state and observing what it does.
 */
import { describe, expect, test } from "bun:test";
import { FSM_EVENTS, FSM_STATES, Fsm, type FsmAction, type FsmEvent, type FsmState, type OptionHandler, transition } from "../../src/ppp/fsm.ts";
import { CODE, emitPacket, parsePacket } from "../../src/ppp/packet.ts";

const RFC_TABLE_1 = `
      | State
      |    0         1         2         3         4         5
Events| Initial   Starting  Closed    Stopped   Closing   Stopping
------+-----------------------------------------------------------
 Up   |    2     irc,scr/6     -         -         -         -
 Down |    -         -         0       tls/1       0         1
 Open |  tls/1       1     irc,scr/6     3r        5r        5r
 Close|    0       tlf/0       2         2         4         4
  TO+ |    -         -         -         -       str/4     str/5
  TO- |    -         -         -         -       tlf/2     tlf/3
 RCR+ |    -         -       sta/2 irc,scr,sca/8   4         5
 RCR- |    -         -       sta/2 irc,scr,scn/6   4         5
 RCA  |    -         -       sta/2     sta/3       4         5
 RCN  |    -         -       sta/2     sta/3       4         5
 RTR  |    -         -       sta/2     sta/3     sta/4     sta/5
 RTA  |    -         -         2         3       tlf/2     tlf/3
 RUC  |    -         -       scj/2     scj/3     scj/4     scj/5
 RXJ+ |    -         -         2         3         4         5
 RXJ- |    -         -       tlf/2     tlf/3     tlf/2     tlf/3
 RXR  |    -         -         2         3         4         5
`;

const RFC_TABLE_2 = `
      | State
      |    6         7         8           9
Events| Req-Sent  Ack-Rcvd  Ack-Sent    Opened
------+-----------------------------------------
 Up   |    -         -         -           -
 Down |    1         1         1         tld/1
 Open |    6         7         8           9r
 Close|irc,str/4 irc,str/4 irc,str/4 tld,irc,str/4
  TO+ |  scr/6     scr/6     scr/8         -
  TO- |  tlf/3p    tlf/3p    tlf/3p        -
 RCR+ |  sca/8   sca,tlu/9   sca/8   tld,scr,sca/8
 RCR- |  scn/6     scn/7     scn/6   tld,scr,scn/6
 RCA  |  irc/7     scr/6x  irc,tlu/9   tld,scr/6x
 RCN  |irc,scr/6   scr/6x  irc,scr/8   tld,scr/6x
 RTR  |  sta/6     sta/6     sta/6   tld,zrc,sta/5
 RTA  |    6         6         8       tld,scr/6
 RUC  |  scj/6     scj/7     scj/8       scj/9
 RXJ+ |    6         6         8           9
 RXJ- |  tlf/3     tlf/3     tlf/3   tld,irc,str/5
 RXR  |    6         7         8         ser/9
`;

interface Cell {
  next: FsmState;
  actions: FsmAction[];
}

/** Parse one RFC table block: rows are events, whitespace-separated cells per state column. */
function parseRfcTable(text: string, firstState: number): Map<string, Cell | null> {
  const out = new Map<string, Cell | null>();
  for (const line of text.split("\n")) {
    const m = /^\s*(Up|Down|Open|Close|TO\+|TO-|RCR\+|RCR-|RCA|RCN|RTR|RTA|RUC|RXJ\+|RXJ-|RXR)\s*\|(.*)$/.exec(line);
    if (!m) continue;
    const event = m[1] as FsmEvent;
    const cells = (m[2] ?? "").trim().split(/\s+/);
    cells.forEach((cell, i) => {
      const state = FSM_STATES[firstState + i] as FsmState;
      if (cell === "-") {
        out.set(`${state}/${event}`, null);
        return;
      }
      const [acts, target] = cell.includes("/") ? (cell.split("/") as [string, string]) : ["", cell];
      const stateNo = Number(target.replace(/[prx]$/, ""));
      out.set(`${state}/${event}`, {
        next: FSM_STATES[stateNo] as FsmState,
        actions: acts ? (acts.split(",") as FsmAction[]) : [],
      });
    });
  }
  return out;
}

const FIXTURE = new Map([...parseRfcTable(RFC_TABLE_1, 0), ...parseRfcTable(RFC_TABLE_2, 6)]);

test("the fixture covers all 10 states x 16 events", () => {
  expect(FIXTURE.size).toBe(160);
});

describe("transition() matches RFC 1661 §4.1", () => {
  for (const state of FSM_STATES) {
    for (const event of FSM_EVENTS) {
      const want = FIXTURE.get(`${state}/${event}`);
      test(`${state} ${event}`, () => {
        expect(want).toBeDefined();
        const got = transition(state, event);
        if (want === null) expect(got).toBeNull();
        else expect(got).toEqual({ next: want!.next, actions: want!.actions });
      });
    }
  }
});

/** A handler that records the this-layer actions; checkRequest answers what the test wants. */
class RecordingHandler implements OptionHandler {
  log: string[] = [];
  verdict: "ack" | "nak" = "ack";
  resetCi() {}
  buildRequest() {
    return [{ type: 1, data: Uint8Array.of(5, 220) }];
  }
  ackReceived() {}
  nakReceived() {
    return true;
  }
  rejectReceived() {
    return true;
  }
  checkRequest() {
    return this.verdict === "ack" ? { kind: "ack" as const, options: [] } : { kind: "nak" as const, options: [{ type: 1, data: Uint8Array.of(5, 220) }] };
  }
  up() {
    this.log.push("tlu");
  }
  down() {
    this.log.push("tld");
  }
  started() {
    this.log.push("tls");
  }
  finished() {
    this.log.push("tlf");
  }
  handleRxr() {
    this.log.push("ser");
  }
}

const SENT_ACTION: Record<number, FsmAction> = {
  [CODE.CONF_REQ]: "scr",
  [CODE.CONF_ACK]: "sca",
  [CODE.CONF_NAK]: "scn",
  [CODE.CONF_REJ]: "scn",
  [CODE.TERM_REQ]: "str",
  [CODE.TERM_ACK]: "sta",
  [CODE.CODE_REJ]: "scj",
};

const TIMERS = { restartMs: 3000, maxTerminate: 2, maxConfigure: 10, maxFailure: 5 };

describe("a live Fsm performs the RFC actions for every (state, event)", () => {
  for (const state of FSM_STATES) {
    for (const event of FSM_EVENTS) {
      const want = FIXTURE.get(`${state}/${event}`) ?? null;
      test(`${state} ${event}`, () => {
        const h = new RecordingHandler();
        const sent: FsmAction[] = [];
        const fsm = new Fsm(0xc021, h, {
          send: (_p, pkt) => {
            const code = parsePacket(pkt)?.code ?? -1;
            sent.push(SENT_ACTION[code] ?? ("?" as FsmAction));
          },
          stateChanged: () => {},
        }, TIMERS);
        fsm.state = state;
        const now = 1000;
        const pkt = parsePacket(emitPacket({ code: CODE.CONF_REQ, id: 7, data: new Uint8Array(0) }))!;
        if (event === "RCR-") h.verdict = "nak";
        const verdict = event === "RCR+" ? h.checkRequest() : event === "RCR-" ? { kind: "nak" as const, options: [] } : undefined;
        fsm.dispatch(event, now, pkt, verdict);
        if (want === null) {
          expect(fsm.state).toBe(state);
          expect(sent).toEqual([]);
          expect(h.log).toEqual([]);
          return;
        }
        expect(fsm.state).toBe(want.next);
        // Observable actions, in order: packets sent and this-layer callbacks.
        const observable = want.actions.filter((a) => a !== "irc" && a !== "zrc");
        const seen: FsmAction[] = [];
        let si = 0;
        let hi = 0;
        for (const a of observable) {
          if (["scr", "sca", "scn", "str", "sta", "scj"].includes(a)) seen.push(sent[si++] as FsmAction);
          else seen.push(h.log[hi++] as FsmAction);
        }
        expect(seen).toEqual(observable);
        expect(si).toBe(sent.length);
        expect(hi).toBe(h.log.length);
        // irc/zrc are seen on the Restart counter (scr/str then decrement it once).
        if (want.actions.includes("irc")) {
          const base = want.actions.includes("str") ? TIMERS.maxTerminate : TIMERS.maxConfigure;
          const sends = want.actions.filter((a) => a === "scr" || a === "str").length;
          expect(fsm.restartCounter).toBe(base - sends);
        }
        if (want.actions.includes("zrc")) {
          expect(fsm.restartCounter).toBe(0);
          expect(fsm.deadline).toBe(now + TIMERS.restartMs);
        }
        // The Restart timer runs exactly in the states that wait for a reply.
        const timed = ["closing", "stopping", "req-sent", "ack-rcvd", "ack-sent"].includes(want.next);
        if (!timed) expect(fsm.deadline).toBeNull();
        if (want.actions.includes("scr") || want.actions.includes("str")) expect(fsm.deadline).toBe(now + TIMERS.restartMs);
      });
    }
  }
});
