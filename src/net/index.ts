/** The data plane's public API (README: "The data plane"). */
export { createIpLinkPair, MemoryIpLink } from "./ip-link.ts";
export type { TunDevice } from "./tun.ts";
export { FdTun, MemoryTun, hasNetAdmin } from "./tun.ts";
export { PacketPump, type PumpCounters, type DropReason } from "./pump.ts";
export { InLinkPinger, randomIdentifier, buildEchoRequest, parseEcho, type PingResult, type PingStats } from "./icmp.ts";
export { LinkInterface, type LinkInterfaceOptions, type LinkUpParams, type LinkInterfaceState } from "./iface.ts";
export { MeteredFdPipe } from "./metered-pipe.ts";
export type { NetEvent, NetStaleCleanupEvent, NetDefaultRouteEvent } from "./events.ts";
export { splitPackets } from "./packet.ts";
