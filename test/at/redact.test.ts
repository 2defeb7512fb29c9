import { describe, expect, test } from "bun:test";
import { redactCommand } from "../../src/at/channel.ts";

describe("redactCommand: AT commands that carry a PIN or a password", () => {
  test.each([
    ['AT+CPIN="1234"', "AT+CPIN=***"],
    ['at+cpin="1234","5678"', "at+cpin=***"],
    ['AT+CPIN2="1234"', "AT+CPIN2=***"],
    ['AT+CLCK="SC",0,"1234"', "AT+CLCK=***"],
    ['AT+CPWD="SC","1234","5678"', "AT+CPWD=***"],
    ['AT+CGAUTH=1,1,"user","pw"', "AT+CGAUTH=***"],
    ['AT+QICSGP=1,1,"apn","user","pw",1', "AT+QICSGP=***"],
    ['AT$QCPDPP=1,1,"pw","user"', "AT$QCPDPP=***"],
    // A compound command: everything from the secret-bearing one on is hidden (a ';' may be inside the password).
    ['AT+CMEE=2;+CPIN="1234"', "AT+CMEE=2;+CPIN=***"],
    ['AT+CGAUTH=1,1,"u","a;b";+CFUN=1', "AT+CGAUTH=***"],
  ])("%s → %s", (cmd, shown) => {
    expect(redactCommand(cmd)).toBe(shown);
  });

  test("other commands are shown as they are", () => {
    for (const c of ["AT", "AT+CPIN?", "AT+CGDCONT=1,\"IP\",\"internet\"", "ATD*99#", "AT+CLCK=?"]) expect(redactCommand(c)).toBe(c);
  });
});
