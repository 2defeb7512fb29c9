/**
 * The serial line rates cellkeep supports: a fact config checks and serial/termios.ts uses, so it
 * lives here rather than next to the termios I/O (config/ may import only core/).
 *
 * Rate (bit/s) → Linux speed_t code. 9600..921600 are the usual modem UART rates;
 * 1000000..4000000 exist for USB-serial chips and fast UARTs. The codes are the asm-generic
 * values (same on x86-64 and arm64); a rate is supported exactly when Linux has a code for it.
 * A rate the driver cannot do makes tcsetattr fail or silently pick another rate;
 * `applyTermios` reads the setting back and reports a mismatch as EINVAL.
 */
export const BAUD_CODES: ReadonlyMap<number, number> = new Map([
  [50, 0o1], [75, 0o2], [110, 0o3], [134, 0o4], [150, 0o5], [200, 0o6], [300, 0o7], [600, 0o10],
  [1200, 0o11], [1800, 0o12], [2400, 0o13], [4800, 0o14], [9600, 0o15], [19200, 0o16], [38400, 0o17],
  [57600, 0o10001], [115200, 0o10002], [230400, 0o10003], [460800, 0o10004], [500000, 0o10005],
  [576000, 0o10006], [921600, 0o10007], [1000000, 0o10010], [1152000, 0o10011], [1500000, 0o10012],
  [2000000, 0o10013], [2500000, 0o10014], [3000000, 0o10015], [3500000, 0o10016], [4000000, 0o10017],
]);

export function isSupportedBaudRate(rate: number): boolean {
  return BAUD_CODES.has(rate);
}
