// Physical names behind a logical queue; shared by the RabbitMQ bus, tests and ops tooling.

export interface QueueNames {
  work: string;
  dead: string;
  /** TTL queue holding failed messages for `ms` before they go back to the work queue. */
  retry(ms: number): string;
  /** TTL queue holding `send(..., { delayMs })` messages for `ms` before they reach the work queue. */
  delay(ms: number): string;
}

export function queueNames(prefix: string, queue: string): QueueNames {
  const work = `${prefix}${queue}`;
  return {
    work,
    dead: `${work}.dead`,
    retry: (ms) => `${work}.retry.${ms}`,
    delay: (ms) => `${work}.delay.${ms}`,
  };
}

export function eventsExchangeName(prefix: string): string {
  return `${prefix}prospectflow.events`;
}
