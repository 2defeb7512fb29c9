import { describe, expect, test } from "bun:test";
import { LayerHandler, type LayerListener, RequestCheck } from "../../src/ppp/option-handler.ts";

const opt = (type: number, ...data: number[]) => ({ type, data: Uint8Array.from(data) });

describe("RequestCheck", () => {
  test("no Nak and no Reject: Ack, and only then the peer's values are committed", () => {
    let committed = 0;
    expect(new RequestCheck(false).verdict(() => committed++)).toEqual({ kind: "ack", options: [] });
    expect(committed).toBe(1);
  });

  test("a Reject wins over a Nak, and nothing is committed", () => {
    const c = new RequestCheck(false);
    c.disagree(opt(1, 0, 64), opt(1, 5, 220));
    c.reject(opt(4, 0xc0, 0x25));
    let committed = 0;
    expect(c.verdict(() => committed++)).toEqual({ kind: "rej", options: [opt(4, 0xc0, 0x25)] });
    expect(committed).toBe(0);
  });

  test("disagreement is a Nak with the suggestion, or once Naks turn into Rejects, a Reject of the peer's option unchanged (RFC 1661 §5.4)", () => {
    const nak = new RequestCheck(false);
    nak.disagree(opt(3, 0, 0, 0, 0), opt(3, 10, 0, 0, 1));
    expect(nak.verdict(() => {})).toEqual({ kind: "nak", options: [opt(3, 10, 0, 0, 1)] });
    const rej = new RequestCheck(true);
    rej.disagree(opt(3, 0, 0, 0, 0), opt(3, 10, 0, 0, 1));
    expect(rej.verdict(() => {})).toEqual({ kind: "rej", options: [opt(3, 0, 0, 0, 0)] });
  });
});

describe("LayerHandler", () => {
  test("hands tlu/tld/tls/tlf to the listener in order", () => {
    const seen: string[] = [];
    const listener: LayerListener = {
      up: () => seen.push("up"),
      down: () => seen.push("down"),
      started: () => seen.push("started"),
      finished: () => seen.push("finished"),
    };
    class Handler extends LayerHandler<LayerListener> {}
    const h = new Handler(listener);
    h.started();
    h.up();
    h.down();
    h.finished();
    expect(seen).toEqual(["started", "up", "down", "finished"]);
  });
});
