// A publish that fails because the broker is unreachable is the server's problem, not the
// client's: answer 503 with the reason instead of Nest's generic 500.
import { Catch, HttpStatus } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import { HypsError } from '@hyps/transport';
import type { ServerResponse } from 'node:http';

@Catch(HypsError)
export class HypsHttpExceptionFilter implements ExceptionFilter {
  catch(exception: HypsError, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<ServerResponse>();
    const body = JSON.stringify({
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: 'Service Unavailable',
      message: `message broker unavailable: ${exception.message}`,
      code: exception.code,
    });
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.writeHead(HttpStatus.SERVICE_UNAVAILABLE, { 'content-type': 'application/json' });
    response.end(body);
  }
}
