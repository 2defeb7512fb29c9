/** The AT personality of the emulated Quectel BG96 / BG77: every command it knows, by area. */
import { BASIC_COMMANDS } from "./basic.ts";
import { CALL_COMMANDS } from "./call.ts";
import { IDENTITY_COMMANDS } from "./identity.ts";
import { NETWORK_COMMANDS } from "./network.ts";
import { PACKET_COMMANDS } from "./packet.ts";
import { QUECTEL_EXTENSIONS } from "./quectel.ts";
import { RADIO_CONFIG_COMMANDS } from "./radio.ts";
import { SIM_COMMANDS } from "./sim.ts";
import { SMS_COMMANDS } from "./sms.ts";
import { CLOCK_COMMANDS } from "./clock.ts";
import { type CommandGroup, type CommandTable, commandTable } from "./table.ts";

export const COMMAND_GROUPS: Readonly<Record<string, CommandGroup>> = {
  basic: BASIC_COMMANDS,
  identity: IDENTITY_COMMANDS,
  sim: SIM_COMMANDS,
  network: NETWORK_COMMANDS,
  packet: PACKET_COMMANDS,
  call: CALL_COMMANDS,
  quectel: QUECTEL_EXTENSIONS,
  radio: RADIO_CONFIG_COMMANDS,
  sms: SMS_COMMANDS,
  clock: CLOCK_COMMANDS,
};

export const QUECTEL_COMMANDS: CommandTable = commandTable(...Object.values(COMMAND_GROUPS));
