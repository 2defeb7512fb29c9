import pkg from "../package.json" with { type: "json" };

/** The version users see in `cellkeep version`, /status and metrics. */
export const VERSION: string = pkg.version;
