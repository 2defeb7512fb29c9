/**
 * The module's PDP context table (AT+CGDCONT, 27.007 §10.1.1): what a dial
 * of `*99***<cid>#` connects with. Context 1 exists from the start with an
 * empty APN; the table is module memory and survives resets.
 */
export interface PdpContext {
  cid: number;
  /** "IP", "IPV6", "IPV4V6", "PPP", "NON-IP". */
  type: string;
  apn: string;
}

export const PDP_TYPES: readonly string[] = ["IP", "IPV6", "IPV4V6", "PPP", "NON-IP"];
export const MAX_CID = 15;

export class PdpContexts {
  private readonly byCid = new Map<number, PdpContext>([[1, { cid: 1, type: "IP", apn: "" }]]);

  get(cid: number): PdpContext | undefined {
    return this.byCid.get(cid);
  }

  set(ctx: PdpContext): void {
    this.byCid.set(ctx.cid, ctx);
  }

  delete(cid: number): void {
    this.byCid.delete(cid);
  }

  /** Every defined context, by cid. */
  list(): PdpContext[] {
    return [...this.byCid.values()].sort((a, b) => a.cid - b.cid);
  }
}
