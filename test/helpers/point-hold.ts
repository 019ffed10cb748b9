/**
 * Holds the first pass of one armed kill point (actors/runtime/kill-points.ts) whose context
 * matches, until released, and says on which host it was reached: kill tests hold a commit
 * between two of its awaits, kill something, then let it go on. Pass `hook` as startCloud's
 * `killPoint`. Unarmed, the hook returns at once.
 */
import type { KillPointContexts, KillPointName } from '../../actors/runtime/kill-points.js';

interface Target {
  point: KillPointName;
  match: (ctx: never) => boolean;
  reached: (host: string) => void;
  release: Promise<void>;
}

export class PointHold {
  private target: Target | undefined;

  readonly hook = async <P extends KillPointName>(point: P, ctx: KillPointContexts[P], host: string): Promise<void> => {
    const t = this.target;
    if (!t || t.point !== point || !(t.match as (c: KillPointContexts[P]) => boolean)(ctx)) return;
    this.target = undefined;
    t.reached(host);
    await t.release;
  };

  /** `reached` resolves with the host once the point is held; `release` lets the continuation go on. */
  arm<P extends KillPointName>(
    point: P,
    match: (ctx: KillPointContexts[P]) => boolean,
  ): { reached: Promise<string>; release: () => void } {
    let reached!: (host: string) => void;
    let release!: () => void;
    const r = new Promise<string>((res) => (reached = res));
    const rel = new Promise<void>((res) => (release = res));
    this.target = { point, match: match as (ctx: never) => boolean, reached, release: rel };
    return { reached: r, release };
  }

  /** Disarms a point never reached (a case whose path does not pass it). */
  disarm(): void {
    this.target = undefined;
  }
}
