// main: the console's entry point: the shell first (app.js), then each
// page registers its routes, then the state is loaded and the event
// stream followed.

import { start } from "./app.js";
import "./ledger.js";
import "./lease.js";
import "./deploy.js";

start();
