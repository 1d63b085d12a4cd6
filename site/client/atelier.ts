/** Entry of Atelier's browser code on tutorial pages: small, so pages stay light until a launch. */
import { AtelierLaunch } from './launch-card.ts';
import { AtelierCheck, AtelierRun, upgradeTaskItems } from './steps.ts';

customElements.define('atelier-launch', AtelierLaunch);
customElements.define('atelier-check', AtelierCheck);
customElements.define('atelier-run', AtelierRun);
upgradeTaskItems();
