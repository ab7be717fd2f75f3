// Every failure of a WebSocket request becomes one `{"event":"error"}` reply on that socket.
import { Catch, Logger } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { HypsError } from '@hyps/transport';
import { WebSocket } from 'ws';

@Catch()
export class ChatWsExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ChatGateway');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const client = ws.getClient<WebSocket>();
    const data = { request: ws.getPattern(), ...this.describe(exception) };
    if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ event: 'error', data }));
  }

  private describe(exception: unknown): Record<string, unknown> {
    if (exception instanceof WsException) {
      const error = exception.getError();
      return typeof error === 'string' ? { message: error } : { ...(error as object) };
    }
    if (exception instanceof HypsError) {
      return { message: `message broker unavailable: ${exception.message}`, code: exception.code };
    }
    this.logger.error(exception);
    return { message: 'Internal server error' };
  }
}
