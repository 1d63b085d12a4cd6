/**
 * Entry of Atelier's browser code on every page: small, so pages stay light until a launch. With
 * Astro's client router this module runs once per visit; `astro:page-load` marks each new page.
 */
import { AtelierLaunch } from './launch-card.ts';
import { AtelierCheck, AtelierRun, upgradeTaskItems } from './steps.ts';
import { AtelierHints, AtelierStepActions } from './step-help.ts';
import { dockedLab } from './lab-session.ts';
import { resetStrings } from './strings.ts';
import { classFlag } from './class-flag.ts';

customElements.define('atelier-launch', AtelierLaunch);
customElements.define('atelier-check', AtelierCheck);
customElements.define('atelier-run', AtelierRun);
customElements.define('atelier-hints', AtelierHints);
customElements.define('atelier-step-actions', AtelierStepActions);
document.addEventListener('astro:after-swap', resetStrings);
document.addEventListener('astro:page-load', upgradeTaskItems);
if (dockedLab()) void import('./dock.ts').then(({ resumeDock }) => resumeDock());
// A learner in a class hears their trainer's messages (the flag is set when they join).
if (localStorage.getItem(classFlag)) void import('./class-messages.ts');
