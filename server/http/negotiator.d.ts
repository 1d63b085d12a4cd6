// negotiator ships no types and @types/negotiator is not installed: the part Atelier uses.
declare module 'negotiator' {
  import type { IncomingHttpHeaders } from 'node:http';
  class Negotiator {
    constructor(request: { headers: IncomingHttpHeaders });
    language(available?: string[]): string | undefined;
    languages(available?: string[]): string[];
  }
  export default Negotiator;
}
