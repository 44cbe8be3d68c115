// AMQP topic matching for the in-process bus: words split on '.', '*' is exactly one word, '#' zero or more.

export function matchesTopic(pattern: string, routingKey: string): boolean {
  return matchWords(pattern.split('.'), 0, routingKey.split('.'), 0);
}

function matchWords(pattern: string[], p: number, key: string[], k: number): boolean {
  if (p === pattern.length) return k === key.length;
  const word = pattern[p];
  if (word === '#') {
    // '#' may swallow any number of words, including none.
    for (let next = k; next <= key.length; next++) {
      if (matchWords(pattern, p + 1, key, next)) return true;
    }
    return false;
  }
  if (k === key.length) return false;
  return (word === '*' || word === key[k]) && matchWords(pattern, p + 1, key, k + 1);
}
