/** Registers stall-load.ts's hooks: `node --import <this file> ...` (see there). */
import { register } from 'node:module';

register(new URL('./stall-load.js', import.meta.url));
