/**
 * The learner's running lab for each lab id, kept in localStorage so a reload (or another page
 * naming the same lab) finds it again, and which of them the dock shows. Page parts (launch
 * cards, checks, run blocks) and the dock talk through the events of this module only, so the
 * small page bundle never imports the dock's code.
 */
export interface LabSession {
  id: string;
  token: string;
  lab: string;
  expiresAt: string;
}

/** What the dock says of its lab: the launch card of that lab mirrors it. */
export type DockState = 'running' | 'offline' | 'ended';

const key = (lab: string) => `atelier:lab:${lab}`;
const dockedKey = 'atelier:dock';
const events = new EventTarget();

export function storedSession(lab: string): LabSession | undefined {
  try {
    const session = JSON.parse(localStorage.getItem(key(lab)) ?? 'null') as LabSession | null;
    return session && new Date(session.expiresAt).getTime() > Date.now() ? session : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: LabSession): void {
  localStorage.setItem(key(session.lab), JSON.stringify(session));
}

export function forgetSession(lab: string): void {
  localStorage.removeItem(key(lab));
  if (dockedLab()?.lab === lab) localStorage.removeItem(dockedKey);
}

/** The lab the dock shows, across pages and reloads, with what the dock says of it. */
export interface DockedLab {
  lab: string;
  title: string;
  workspace: string;
}

export function dockedLab(): DockedLab | undefined {
  try {
    const docked = JSON.parse(localStorage.getItem(dockedKey) ?? 'null') as DockedLab | null;
    return docked && typeof docked.lab === 'string' ? docked : undefined;
  } catch {
    return undefined;
  }
}

export function setDockedLab(docked: DockedLab): void {
  localStorage.setItem(dockedKey, JSON.stringify(docked));
}

export interface DockEvent {
  lab: string;
  state: DockState;
  /** Why it ended, for the launch card to say. */
  message?: string;
}

let lastDock: DockEvent | undefined;

export function announceDock(event: DockEvent): void {
  lastDock = event;
  events.dispatchEvent(new CustomEvent('dock', { detail: event }));
}

/** What the dock last said: a card that arrives with a client-side navigation starts from it. */
export function dockNow(): DockEvent | undefined {
  return lastDock;
}

export function onDockChange(listener: (event: DockEvent) => void): () => void {
  const handler = (event: Event) => listener((event as CustomEvent<DockEvent>).detail);
  events.addEventListener('dock', handler);
  return () => events.removeEventListener('dock', handler);
}

/** The dock's visible terminal registers here so run blocks can type into it. */
let terminalInput: ((data: string) => boolean) | undefined;

export function setTerminalInput(send: ((data: string) => boolean) | undefined): void {
  terminalInput = send;
}

/** False when no lab runs, or when the terminal is offline: nothing is queued behind the learner's back. */
export function typeIntoTerminal(data: string): boolean {
  return terminalInput?.(data) ?? false;
}

export function pageLab(): string | undefined {
  return document.querySelector<HTMLElement>('atelier-launch')?.dataset.lab;
}
