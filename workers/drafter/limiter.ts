// Completions in flight: at most `perOrganisation` for one organisation and `total` for the process. A freed
// slot goes to the organisations in turn (round robin), not to whichever queued the most work, so one big
// campaign cannot starve the others.

export interface FairLimiter {
  /** Runs `work` once the organisation and the process both have a free slot. */
  run<T>(organisationId: string, work: () => Promise<T>): Promise<T>;
  /** Calls of run() for this organisation still waiting for a slot. */
  waiting(organisationId: string): number;
}

interface Lane {
  running: number;
  queue: Array<() => void>;
  /** When this organisation last got a slot (a grant counter): the least recently served goes first. */
  servedAt: number;
}

export function createFairLimiter(limits: { perOrganisation: number; total: number }): FairLimiter {
  const lanes = new Map<string, Lane>();
  let running = 0;
  let grants = 0;

  const dispatch = () => {
    while (running < limits.total) {
      let next: Lane | undefined;
      for (const lane of lanes.values()) {
        if (lane.queue.length === 0 || lane.running >= limits.perOrganisation) continue;
        if (!next || lane.servedAt < next.servedAt) next = lane;
      }
      if (!next) return;
      next.running++;
      running++;
      next.servedAt = ++grants;
      next.queue.shift()!();
    }
  };

  const release = (organisationId: string) => {
    const lane = lanes.get(organisationId)!;
    lane.running--;
    running--;
    if (lane.running === 0 && lane.queue.length === 0) lanes.delete(organisationId);
    dispatch();
  };

  return {
    async run(organisationId, work) {
      let lane = lanes.get(organisationId);
      if (!lane) {
        lane = { running: 0, queue: [], servedAt: 0 };
        lanes.set(organisationId, lane);
      }
      await new Promise<void>((resolve) => {
        lane.queue.push(resolve);
        dispatch();
      });
      try {
        return await work();
      } finally {
        release(organisationId);
      }
    },
    waiting(organisationId) {
      return lanes.get(organisationId)?.queue.length ?? 0;
    },
  };
}
