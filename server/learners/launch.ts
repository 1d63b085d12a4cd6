/**
 * What a learner's lab receives at launch, as a datalab service does: their git identity and
 * token, their forge, scoped S3 credentials, the secret group they chose, and the repository
 * they asked to clone. Values are injected as environment variables and never logged.
 */
import type { LabHandle, LabResources, ProgressEvent, Driver } from '../drivers/driver.ts';
import type { LabDefinition, ServiceKind } from '../labs/schema.ts';
import { offered, resourcesFor } from '../services/catalog.ts';
import type { LaunchOptions } from '../labs/sessions.ts';
import type { LearnerStore, S3Credentials } from './store.ts';

/** Names the platform sets; a secret group cannot override them (nor the shell's own). */
const reservedNames = /^(PATH|HOME|USER|LOGNAME|SHELL|TERM|PWD|LANG|LC_.*|LD_.*|BASH_ENV|ENV|IFS|GIT_.*|AWS_.*|MC_HOST_.*|FORGE_URL|ATELIER_.*)$/;

export interface LaunchRequest {
  learnerId: string;
  lab: LabDefinition;
  secrets?: string;
  repository?: string;
  resources?: Partial<Pick<LabResources, 'cpu' | 'memory'>>;
  /** A service of the lab's catalogue; its first when absent. */
  service?: ServiceKind;
}

export interface LaunchServices {
  /** Labs trust the gateway's TLS certificate there (embedded S3 only: an external one has its own). */
  caBundle?: string;
  /** Whether this server can run the service (VS Code is installed only where setup installed it). */
  installed?: (kind: ServiceKind) => boolean;
  store: LearnerStore;
  driver: Driver;
  /** Base URL of the lab server as a lab reaches it (through its gateway), e.g. http://127.0.0.1:4321. */
  labSideOrigin: () => string;
  region: string;
  /** The learner's S3 credentials: stored ones (embedded endpoint) or minted by STS (external S3). */
  s3Credentials(learnerId: string): Promise<S3Credentials>;
  /**
   * The external S3 endpoint (http(s)://host[:port]) labs are given; absent: the embedded one,
   * at labSideOrigin. Labs of the local driver reach only the lab server (its gateway): they
   * cannot reach an external endpoint.
   */
  s3Endpoint?: string;
  /** Creates the lab's seed repositories in the learner's forge when missing. */
  seedRepositories: (learnerId: string, lab: LabDefinition) => Promise<void>;
  repositoryExists: (learnerId: string, name: string) => boolean;
}

export class LaunchError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'LaunchError';
    this.field = field;
  }
}

/**
 * Resources within the caps of the lab with the chosen service (its catalogue entry may ask for
 * more than the lab's shell): the Configure panel can ask for less, never more.
 */
export function grantedResources(lab: LabDefinition, asked: LaunchRequest['resources'] = {}, service?: ServiceKind): LabResources {
  const caps = resourcesFor(lab, service ?? offered(lab)[0]!);
  return {
    ...caps,
    cpu: Math.min(asked.cpu ?? caps.cpu, caps.cpu),
    memory: Math.min(asked.memory ?? caps.memory, caps.memory),
  };
}

/** The service the learner asked for, if the lab offers it and this server runs it. */
function chosenService(services: LaunchServices, request: LaunchRequest): ServiceKind {
  const kinds = offered(request.lab);
  const service = request.service ?? kinds[0]!;
  if (!kinds.includes(service)) throw new LaunchError('service', `this lab offers ${kinds.join(', ')}, not ${service}`);
  if (services.installed && !services.installed(service)) throw new LaunchError('service', `${service} is not installed on this server`);
  return service;
}

/** A git config value, quoted so that nothing in a learner's name can start a new section. */
function gitValue(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`;
}

export function gitConfig(env: Record<string, string>): string {
  return [
    '[init]',
    '\tdefaultBranch = main',
    '[credential]',
    '\thelper = store',
    ...(env.GIT_USER_NAME || env.GIT_USER_MAIL ? ['[user]'] : []),
    ...(env.GIT_USER_NAME ? [`\tname = ${gitValue(env.GIT_USER_NAME)}`] : []),
    ...(env.GIT_USER_MAIL ? [`\temail = ${gitValue(env.GIT_USER_MAIL)}`] : []),
    '',
  ].join('\n');
}

export async function learnerEnvironment(services: LaunchServices, request: LaunchRequest): Promise<Record<string, string>> {
  const { store } = services;
  const { learnerId } = request;
  const learner = await store.get(learnerId);
  const origin = services.labSideOrigin();
  const s3Origin = services.s3Endpoint ?? origin;
  const s3Host = s3Origin.replace(/^https?:\/\//, '');
  const s3 = await services.s3Credentials(learnerId);
  const token = await store.gitToken(learnerId);
  const forgeUrl = `${origin}/git/${learnerId}`;
  const secrets = request.secrets ? ((await store.secretGroup(learnerId, request.secrets)) ?? {}) : {};
  const safeSecrets = Object.fromEntries(Object.entries(secrets).filter(([name]) => !reservedNames.test(name)));
  return {
    ...safeSecrets,
    GIT_USER_NAME: learner?.git.name ?? '',
    GIT_USER_MAIL: learner?.git.email ?? '',
    ...(token ? { GIT_PERSONAL_ACCESS_TOKEN: token } : {}),
    FORGE_URL: forgeUrl,
    ...(request.repository ? { GIT_REPOSITORY: `${forgeUrl}/${request.repository}.git` } : {}),
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_SESSION_TOKEN: s3.sessionToken,
    AWS_DEFAULT_REGION: services.region,
    AWS_S3_ENDPOINT: s3Host,
    AWS_ENDPOINT_URL: s3Origin,
    AWS_BUCKET: learnerId,
    ...(services.caBundle && !services.s3Endpoint ? { AWS_CA_BUNDLE: services.caBundle } : {}),
    MC_HOST_s3: `${s3Origin.replace('://', `://${encodeURIComponent(s3.accessKeyId)}:${encodeURIComponent(s3.secretAccessKey)}:${encodeURIComponent(s3.sessionToken)}@`)}`,
  };
}

/**
 * The learner's dotfiles, as the datalab's init script leaves them: git identity and a credential
 * helper holding the token, and s3cmd's settings. The driver writes them into the lab's ephemeral
 * home when the lab is claimed for the learner, and they die with it.
 */
export function homeFiles(services: LaunchServices, request: LaunchRequest, env: Record<string, string>): Record<string, string> {
  const origin = services.labSideOrigin();
  const credentials = env.GIT_PERSONAL_ACCESS_TOKEN ? `${origin.replace('://', `://${request.learnerId}:${env.GIT_PERSONAL_ACCESS_TOKEN}@`)}\n` : '';
  const s3cfg = [
    // No keys here: s3cmd takes a session token found in its configuration for a cloud role's and
    // asks the metadata address (169.254.169.254) to refresh it before every request; taken from
    // the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), it does not
    // (S3/Config.py: _access_token_refresh).
    '# Credentials: from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).',
    '[default]',
    `host_base = ${env.AWS_S3_ENDPOINT}`,
    `host_bucket = ${env.AWS_S3_ENDPOINT}`,
    `bucket_location = ${services.region}`,
    `use_https = ${env.AWS_ENDPOINT_URL?.startsWith('https:') ? 'True' : 'False'}`,
    'signature_v2 = False',
    '',
  ].join('\n');
  return { '.gitconfig': gitConfig(env), '.git-credentials': credentials, '.s3cfg': s3cfg };
}

/** Before the lab is ready: the clone the learner asked for, if any. */
export function cloneRepository(services: LaunchServices) {
  return async (handle: LabHandle, onProgress: (event: ProgressEvent) => void): Promise<void> => {
    onProgress({ step: 'clone', percent: 90 });
    const result = await services.driver.exec(handle, ['bash', '-c', 'cd ~/work && git clone --quiet "$GIT_REPOSITORY"'], { timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(`lab setup failed: git clone: ${result.stderr.trim().slice(0, 300)}`);
  };
}

/** Validates the learner's choices and builds the session's launch options. */
export async function launchOptions(services: LaunchServices, request: LaunchRequest): Promise<LaunchOptions> {
  const { store } = services;
  if (request.secrets && !(await store.secretGroup(request.learnerId, request.secrets))) {
    throw new LaunchError('secrets', `no secret group named ${request.secrets}`);
  }
  await services.seedRepositories(request.learnerId, request.lab);
  if (request.repository && !services.repositoryExists(request.learnerId, request.repository)) {
    throw new LaunchError('repository', `no repository named ${request.repository}`);
  }
  const service = chosenService(services, request);
  const env = await learnerEnvironment(services, request);
  return {
    learnerId: request.learnerId,
    env,
    resources: grantedResources(request.lab, request.resources, service),
    choices: {
      ...(request.repository ? { repository: request.repository } : {}),
      ...(request.secrets ? { secrets: request.secrets } : {}),
      service,
    },
    homeFiles: homeFiles(services, request, env),
    ...(env.GIT_REPOSITORY ? { prepare: cloneRepository(services) } : {}),
  };
}
