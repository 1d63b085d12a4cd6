/** The forge: git smart HTTP with per-learner private repositories and token auth. */
export type { ForgeIdentity, ForgeAuthenticator } from './auth.ts';
export { parseBasicAuth, tokenOf, authRealm } from './auth.ts';
export { createForgeHandler, isForgeRequest, forgeUrlFor, parseForgeRoute, ForgeRouteError, defaultForgeLimits } from './handler.ts';
export type { ForgeHandlerOptions, ForgeLimits, ForgeEvent, ForgeRoute, GitService } from './handler.ts';
export { RepositoryStore, InvalidRepositoryName, BrowseBusyError } from './repositories.ts';
export type { RepositorySummary } from './repositories.ts';
export type { TreeEntry, CommitSummary, FileContent, HasPathOptions } from './browse.ts';
export { runHttpBackend, defaultBackendLimits } from './http-backend.ts';
export type { BackendLimits, BackendOutcome } from './http-backend.ts';
export { isValidRepoName, isValidLearnerId, parseRepoName, normalizeTreePath } from './names.ts';
