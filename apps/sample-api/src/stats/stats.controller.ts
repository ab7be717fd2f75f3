import { Controller, Get } from '@nestjs/common';
import { RoomsService } from '../chat/rooms.service.js';
import type { ChatStats } from '../chat/rooms.service.js';

@Controller('stats')
export class StatsController {
  constructor(private readonly rooms: RoomsService) {}

  /** Local subscribers per room and transport, the Hyps connection's status, and drops. */
  @Get()
  stats(): ChatStats {
    return this.rooms.stats();
  }
}
