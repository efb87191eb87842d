/**
 * The front door: one uWebSockets.js App per listened address (so a handler knows which node was
 * addressed without trusting the Host header), all on the main thread.
 */
import { DistkvError } from '../errors.js';
import { registerAdminRoutes, registerFallbackRoutes } from './admin-routes.js';
import { registerCollectionRoutes } from './collection-routes.js';
import type { HttpContext, SharedContext } from './context.js';
import { registerKvRoutes, registerSeedKeyRoutes } from './kv-routes.js';
import { registerFailoverRoutes } from './failover-routes.js';
import { registerReplRoutes } from './repl-routes.js';
import type { ListenSocket, TemplatedApp, UwsModule } from './uws.js';

/** EXCLUSIVE_PORT is uWS's LIBUS_LISTEN_EXCLUSIVE_PORT listen option (binds without SO_REUSEPORT). */
const EXCLUSIVE_PORT = 1;
/** ExclusiveListen is `listen(host, port, options, cb)`, which uWS accepts but its typings omit. */
type ExclusiveListen = (
  host: string,
  port: number,
  options: number,
  cb: (s: ListenSocket | false) => void,
) => void;

/** FrontDoor owns the listeners of this process. */
export class FrontDoor {
  private readonly sockets: ListenSocket[] = [];
  private readonly uws: UwsModule;
  private readonly shared: SharedContext;

  constructor(uws: UwsModule, shared: SharedContext) {
    this.uws = uws;
    this.shared = shared;
  }

  /** listen opens every listener of the plan; it rejects naming the address that could not be bound. */
  async listen(): Promise<void> {
    for (const listener of this.shared.plan.listeners) {
      const ctx: HttpContext = { ...this.shared, listener };
      const app = this.createApp();
      registerKvRoutes(app, ctx);
      registerCollectionRoutes(app, ctx);
      registerSeedKeyRoutes(app, ctx);
      registerAdminRoutes(app, ctx);
      registerReplRoutes(app, ctx);
      registerFailoverRoutes(app, ctx);
      registerFallbackRoutes(app, ctx);
      const socket = await new Promise<ListenSocket | false>((resolve) => {
        // Exclusive: without it uWS sets SO_REUSEPORT and a second process would share the port.
        (app.listen as unknown as ExclusiveListen).call(
          app,
          listener.host,
          listener.port,
          EXCLUSIVE_PORT,
          resolve,
        );
      });
      if (socket === false) {
        this.close();
        throw new DistkvError(
          'UNAVAILABLE',
          `cannot listen on ${listener.address}: the port is in use or the address is not on this machine`,
        );
      }
      this.sockets.push(socket);
    }
  }

  /** close stops accepting connections on every listener (open connections finish their requests). */
  close(): void {
    for (const s of this.sockets.splice(0)) this.uws.us_listen_socket_close(s);
  }

  private createApp(): TemplatedApp {
    const { tls_cert, tls_key } = this.shared.config.server;
    return tls_cert === ''
      ? this.uws.App()
      : this.uws.SSLApp({ cert_file_name: tls_cert, key_file_name: tls_key });
  }
}
