import { describe, expect, test } from "bun:test";
import { redactCommand } from "../../src/at/channel.ts";
import { commandSecrets, redactLine } from "../../src/core/redact.ts";

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

describe("commandSecrets: credential values inside modem.init commands", () => {
  test.each([
    ['AT+CGAUTH=1,1,"user","pw"', [{ value: "pw", kind: "password" }]],
    ['AT+QICSGP=1,1,"apn","user","p4ss",1', [{ value: "p4ss", kind: "password" }]],
    ['AT$QCPDPP=1,1,"pw9","user"', [{ value: "pw9", kind: "password" }]],
    ['AT+CPIN="1234"', [{ value: "1234", kind: "pin" }]],
    ["AT+CPIN=12345678,4321", [{ value: "12345678", kind: "pin" }, { value: "4321", kind: "pin" }]],
    ['AT+CLCK="SC",1,"0000"', [{ value: "0000", kind: "pin" }]],
    ['AT+CPWD="SC","1111","2222"', [{ value: "1111", kind: "pin" }, { value: "2222", kind: "pin" }]],
    ['AT+CGAUTH = 1, 1, "user", " p w "', [{ value: " p w ", kind: "password" }]],
    // A password may hold ';' and ',' inside its quotes; a later command of the line is parsed too.
    ['at+cmee=2;+cgauth=1,1,"u","a;b,c";+QICSGP=1,1,"apn","u","xy",1', [{ value: "a;b,c", kind: "password" }, { value: "xy", kind: "password" }]],
  ])("%s", (cmd, secrets) => {
    expect(commandSecrets(cmd)).toEqual(secrets as { value: string; kind: "pin" | "password" }[]);
  });

  test("commands without credentials, queries and empty values give nothing", () => {
    for (const c of ["AT", "AT+CPIN?", "AT+CGAUTH=?", 'AT+CGAUTH=1,0', 'AT+CGAUTH=1,1,"user",""', 'AT+CGDCONT=1,"IP","internet"', "ATD*99#"]) {
      expect(commandSecrets(c)).toEqual([]);
    }
  });
});

describe("redactLine: lines from the modem (URCs, answers, echoes)", () => {
  test.each([
    // An echoed command (echo on, or a module that repeats the line) is masked like a sent one.
    ['AT+CGAUTH=1,1,"user","pw"', "AT+CGAUTH=***"],
    ['AT+CPIN="1234"', "AT+CPIN=***"],
    // Read answers print the stored credentials back.
    ['+QICSGP: 1,"internet","user","pw",1', "+QICSGP: ***"],
    ['+CGAUTH: 1,1,"user","pw"', "+CGAUTH: ***"],
    ['$QCPDPP: 1,1,"user"', "$QCPDPP: ***"],
  ])("%s → %s", (line, shown) => {
    expect(redactLine(line)).toBe(shown);
  });

  test("status URCs are shown as they are", () => {
    for (const l of ["+CPIN: READY", "+CPIN: SIM PIN", '+CEREG: 1,"1A2B","01A2B3C4",7', "RDY", "NO CARRIER", "+CLCK: 1", "+QICSGP: "]) expect(redactLine(l)).toBe(l);
  });
});
