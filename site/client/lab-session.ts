/**
 * The learner's running lab for each lab id, kept in localStorage so a reload (or another page
 * naming the same lab) finds it again, and announced to the page's parts through events.
 */
export interface LabSession {
  id: string;
  token: string;
  lab: string;
  expiresAt: string;
}

const key = (lab: string) => `atelier:lab:${lab}`;
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
  events.dispatchEvent(new CustomEvent('change', { detail: session.lab }));
}

export function forgetSession(lab: string): void {
  localStorage.removeItem(key(lab));
  events.dispatchEvent(new CustomEvent('change', { detail: lab }));
}

/** The page's terminal registers here so run blocks can type into it. */
let terminalInput: ((data: string) => void) | undefined;

export function setTerminalInput(send: ((data: string) => void) | undefined): void {
  terminalInput = send;
}

export function typeIntoTerminal(data: string): boolean {
  if (!terminalInput) return false;
  terminalInput(data);
  return true;
}

export function pageLab(): string | undefined {
  return document.querySelector<HTMLElement>('atelier-launch')?.dataset.lab;
}

export function onSessionChange(listener: (lab: string) => void): void {
  events.addEventListener('change', (event) => listener((event as CustomEvent<string>).detail));
}
