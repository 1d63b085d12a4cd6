/**
 * The services a learner opens in the browser, as the datalab's catalogue offers them, and how
 * each is run inside a lab: pure builders of the driver's ServiceSpec, so that a pod-backed driver
 * runs the same programs (its image ships them at the same paths) and the unit tests pin every flag.
 * Each listens on a Unix socket only; the lab server's proxy (http/apps.ts) is its one client.
 */
import type { ServiceSpec } from '../drivers/driver.ts';
import type { LabResources } from '../drivers/driver.ts';
import { LAB_HOME, LAB_PYTHON_DIR, SERVICE_SOCKET_DIR } from '../drivers/local/sandbox-args.ts';
import { codeServerPaths } from './code-server-install.ts';
import type { LabDefinition, ServiceKind } from '../labs/schema.ts';

/** The services that are opened (a terminal-only lab opens nothing but its shells). */
export type OpenableKind = Exclude<ServiceKind, 'terminal'>;

export function isOpenable(kind: ServiceKind): kind is OpenableKind {
  return kind !== 'terminal';
}

export interface ServiceContext {
  /** Asked by the service's own login page (the note's password). */
  password: string;
  /** The lab's workspace, where the service opens. */
  workspace: string;
}

const socketOf = (kind: OpenableKind): string => `${SERVICE_SOCKET_DIR}/${kind}.sock`;
/** In the lab's home (its disk quota bounds it), beside the learner's files but hidden. */
const logOf = (kind: OpenableKind): string => `${LAB_HOME}/.cache/atelier/${kind}.log`;

/**
 * VS Code's first-run defaults in a lab: no welcome page or AI chat panel (labs have no Internet),
 * no telemetry or update checks, git that syncs without asking (the forge is the lab's own).
 */
const vscodeSettings = `${JSON.stringify(
  {
    'workbench.startupEditor': 'none',
    'chat.disableAIFeatures': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'git.confirmSync': false,
    'security.workspace.trust.enabled': false,
  },
  null,
  2,
)}\n`;

const builders: Record<OpenableKind, (context: ServiceContext) => Omit<ServiceSpec, 'name' | 'socket' | 'log'>> = {
  jupyterlab: ({ password, workspace }) => ({
    argv: [
      `${LAB_PYTHON_DIR}/bin/jupyter-lab`,
      `--ServerApp.sock=${socketOf('jupyterlab')}`,
      '--ServerApp.sock_mode=0600',
      `--ServerApp.root_dir=${workspace}`,
      '--ServerApp.open_browser=False',
      // Requests arrive through the proxy with the lab's own host name, not localhost.
      '--ServerApp.allow_remote_access=True',
      // Labs have no Internet: do not wait for the news feed or PyPI.
      '--LabApp.news_url=None',
      '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
      '--ServerApp.terminado_settings={"shell_command":["/bin/bash","-l"]}',
    ],
    // Read by Jupyter's IdentityProvider; in the environment rather than argv (not in `ps`).
    env: { JUPYTER_TOKEN: password, MPLBACKEND: 'module://matplotlib_inline.backend_inline' },
  }),
  vscode: ({ password, workspace }) => ({
    argv: [
      codeServerPaths().node,
      codeServerPaths().entry,
      '--socket', socketOf('vscode'),
      '--socket-mode', '600',
      '--auth', 'password',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--ignore-last-opened',
      workspace,
    ],
    env: { PASSWORD: password },
    defaults: { [`${LAB_HOME}/.local/share/code-server/User/settings.json`]: vscodeSettings },
  }),
};

export function serviceSpec(kind: OpenableKind, context: ServiceContext): ServiceSpec {
  return { name: kind, socket: socketOf(kind), log: logOf(kind), ...builders[kind](context) };
}

/** The lab's resources with the chosen service's own (its entry in the lab's catalogue). */
export function resourcesFor(lab: LabDefinition, kind: ServiceKind): LabResources {
  return { ...lab.resources, ...(lab.catalog[kind]?.resources ?? {}) };
}

/** The services the lab offers, in its catalogue's order (the first is preselected). */
export function offered(lab: LabDefinition): ServiceKind[] {
  return Object.keys(lab.catalog) as ServiceKind[];
}
