/** Reading a V8 .cpuprofile: self time by function and by package. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  wallMs: number;
  /** Time not idle (the event loop busy), ms. */
  busyMs: number;
  functions: HotSpot[];
  packages: HotSpot[];
  /** Inclusive time of frames whose function name matches, for a few questions worth asking. */
  inclusive: HotSpot[];
}

/** Which package or part of node a script URL belongs to. */
export function packageOf(url: string): string {
  if (!url) return '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  if (url.startsWith('node:')) return 'node internals';
  const project = /\/(server|test|i18n)\/(.*)$/.exec(url);
  if (project) return `${project[1]}/${(project[2] as string).split('/')[0]}`;
  return url;
}

export function summarizeProfile(path: string, top = 15, inclusiveNames: string[] = []): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the next delta to it (as DevTools does).
    const delta = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  let idle = 0;
  const functions = new Map<string, HotSpot>();
  const packages = new Map<string, HotSpot>();
  const inclusive = new Map<string, HotSpot>();
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const name = functionName || '(anonymous)';
    const file = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|test)\//, '$1/');
    const where = url ? `${file}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const f = functions.get(key) ?? { name, where, selfMs: 0, share: 0 };
    f.selfMs += ms;
    functions.set(key, f);
    const pkg = functionName.startsWith('(') ? functionName : packageOf(url);
    const p = packages.get(pkg) ?? { name: pkg, where: '', selfMs: 0, share: 0 };
    p.selfMs += ms;
    packages.set(pkg, p);
    // Inclusive time: walk up once per distinct matching ancestor name.
    if (inclusiveNames.length) {
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at)?.callFrame;
        if (!frame) break;
        for (const wanted of inclusiveNames) {
          if (seen.has(wanted) || !`${frame.functionName} ${frame.url}`.includes(wanted)) continue;
          seen.add(wanted);
          const entry = inclusive.get(wanted) ?? { name: wanted, where: '', selfMs: 0, share: 0 };
          entry.selfMs += ms;
          inclusive.set(wanted, entry);
        }
      }
    }
  }
  const busyMs = Math.max(1e-9, wallMs - idle);
  const rank = (map: Map<string, HotSpot>, n: number) =>
    [...map.values()]
      .map((h) => ({ ...h, share: h.selfMs / busyMs }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, n);
  return { wallMs, busyMs: wallMs - idle, functions: rank(functions, top), packages: rank(packages, 12), inclusive: rank(inclusive, inclusiveNames.length) };
}
