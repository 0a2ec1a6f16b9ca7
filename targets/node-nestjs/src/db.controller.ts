// db.controller.ts: the database endpoints (docs/contract.md, "Database endpoints") as a NestJS
// controller on TypeORM repositories; /fortunes is rendered by the Express adapter's view engine
// (hbs, Handlebars). Without DATABASE_URL the TypeORM module is not imported, the repositories are
// absent (@Optional) and every endpoint here answers 503.

import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Optional,
  Param,
  Post,
  Put,
  Query,
  Render,
  ServiceUnavailableException,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { assignRandomNumbers, fortuneList, itemsLimit, ItemInput, NO_DATABASE, parseId, parseItem, queryCount, randomId } from './contract';
import { Fortune, Item, World } from './entities';

interface WorldRow {
  id: number;
  randomNumber: number;
}

function itemBody(body: unknown): ItemInput {
  const parsed = parseItem(body);
  if (parsed.error !== undefined) throw new BadRequestException(parsed.error);
  return parsed.value;
}

function itemId(raw: string): number {
  const id = parseId(raw);
  if (id === null) throw new BadRequestException('the item id must be a positive integer');
  return id;
}

@Controller()
export class DbController {
  constructor(
    @Optional() @InjectRepository(World) private readonly worlds?: Repository<World>,
    @Optional() @InjectRepository(Fortune) private readonly fortunes?: Repository<Fortune>,
    @Optional() @InjectRepository(Item) private readonly items?: Repository<Item>,
  ) {}

  private repo<T extends object>(r: Repository<T> | undefined): Repository<T> {
    if (!r) throw new ServiceUnavailableException(NO_DATABASE);
    return r;
  }

  /** One World row by id: one SELECT. */
  private async world(id: number): Promise<WorldRow> {
    const w = await this.repo(this.worlds).findOneByOrFail({ id });
    return { id: w.id, randomNumber: w.randomNumber };
  }

  /** q random World rows, one query each (run concurrently on the pool). */
  private randomWorlds(q: number): Promise<WorldRow[]> {
    const reads: Promise<WorldRow>[] = [];
    for (let i = 0; i < q; i++) reads.push(this.world(randomId()));
    return Promise.all(reads);
  }

  @Get('db')
  async db(): Promise<WorldRow> {
    return this.world(randomId());
  }

  @Get('queries')
  async queries(@Query('q') q?: string): Promise<WorldRow[]> {
    this.repo(this.worlds);
    return this.randomWorlds(queryCount(q));
  }

  @Get('fortunes')
  @Render('fortunes')
  async fortunesPage(): Promise<{ fortunes: { id: number; message: string }[] }> {
    const rows = await this.repo(this.fortunes).find();
    return { fortunes: fortuneList(rows) };
  }

  @Get('updates')
  async updates(@Query('q') q?: string): Promise<WorldRow[]> {
    const worlds = this.repo(this.worlds);
    const rows = await this.randomWorlds(queryCount(q));
    assignRandomNumbers(rows);
    await Promise.all(rows.map((r) => worlds.update({ id: r.id }, { randomNumber: r.randomNumber })));
    return rows;
  }

  @Get('items')
  async list(@Query('limit') limit?: string): Promise<Item[]> {
    return this.repo(this.items).find({ order: { id: 'ASC' }, take: itemsLimit(limit) });
  }

  @Post('items')
  async create(@Body() body: unknown): Promise<Item> {
    const items = this.repo(this.items);
    const input = itemBody(body);
    // insert() (one INSERT … RETURNING id) writes the generated id into the object it is given, as
    // TypeORM's bigint string: hand it a copy and answer with the id as a number.
    const result = await items.insert({ ...input });
    return { id: Number(result.identifiers[0].id), ...input };
  }

  @Get('items/:id')
  async read(@Param('id') raw: string): Promise<Item> {
    const items = this.repo(this.items);
    const id = itemId(raw);
    const item = await items.findOneBy({ id });
    if (!item) throw new NotFoundException(`no item ${id}`);
    return item;
  }

  @Put('items/:id')
  async replace(@Param('id') raw: string, @Body() body: unknown): Promise<Item> {
    const items = this.repo(this.items);
    const id = itemId(raw);
    const input = itemBody(body);
    const result = await items.update({ id }, input);
    if (!result.affected) throw new NotFoundException(`no item ${id}`);
    return { id, ...input };
  }

  @Delete('items/:id')
  @HttpCode(204)
  async remove(@Param('id') raw: string): Promise<void> {
    const items = this.repo(this.items);
    const id = itemId(raw);
    const result = await items.delete({ id });
    if (!result.affected) throw new NotFoundException(`no item ${id}`);
  }
}
