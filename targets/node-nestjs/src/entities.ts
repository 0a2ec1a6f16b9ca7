// entities.ts: the TypeORM entities of the database endpoints (docs/contract.md, "Database endpoints"),
// mapped onto the lab's schema (TechEmpower's world and fortune tables, items for CRUD). The schema is
// the lab's: TypeORM never synchronises it.

import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

@Entity('world')
export class World {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @Column({ type: 'integer', name: 'randomnumber' })
  randomNumber!: number;
}

@Entity('fortune')
export class Fortune {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @Column({ type: 'varchar', length: 2048 })
  message!: string;
}

@Entity('items')
export class Item {
  // bigserial; parseInt8 (app.module.ts) makes node-postgres return it as a number (ids stay far below 2^53).
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: number;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'integer' })
  price_cents!: number;
}
