/** Set in localStorage once the learner joined a class on this browser: pages then open the trainer's message stream. */
export const classFlag = 'atelier.class';
