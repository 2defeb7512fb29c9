import { VERSION } from "../version.ts";

export const HELP = `cellkeep ${VERSION}: keeps a cellular data link alive.

Usage:
  cellkeep run --config FILE        run the agent (modem supervisor, PPP, health checks, status endpoint)
  cellkeep check --config FILE      validate FILE and print the effective config (secrets shown as ***)
  cellkeep simulate --pty PATH [--scenario NAME]... [--time-scale X]
                                    run the virtual modem on a pseudo-terminal at PATH
  cellkeep demo                     run the agent against the built-in virtual modem (no root, no hardware)
  cellkeep ports [--config FILE]    list serial ports that look like modems and which one "auto" picks;
                                    with a config, also the configured ports and what CMUX DLCIs carry
  cellkeep doctor [--config FILE] [--user NAME]
                                    check the host for what a run needs (port, permissions, ModemManager,
                                    locks, /dev/net/tun, CAP_NET_ADMIN, secrets, state dir, clock, QMI);
                                    each finding with its fix. FILE defaults to /etc/cellkeep/cellkeep.toml
  cellkeep status [--url URL]       print the running agent's status (default http://127.0.0.1:8080)
  cellkeep fleet --broker URL [--json]
                                    show every gateway reporting to an MQTT broker (docs/mqtt.md)
  cellkeep version                  print the version
  cellkeep help | --help            this text

Signals (run):
  SIGINT, SIGTERM   hang up cleanly (LCP Terminate, interface and routes removed) and exit 0
  SIGHUP            re-read the config file; an invalid new config is reported and the old one kept

Exit codes:
  0  success (run: clean shutdown after a signal)
  1  runtime failure (run: could not start, e.g. port locked or no permission; status: link not connected;
     doctor: something blocks a run)
  2  bad configuration or bad command line; nothing touched the modem
  3  status: the agent could not be reached
  70 internal error (run: logged with cause agent-crashed after a clean stop; the service manager restarts it)
`;
