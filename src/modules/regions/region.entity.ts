import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const REGION_LEVELS = ['country', 'province', 'prefecture', 'county', 'township'] as const;
export type RegionLevel = (typeof REGION_LEVELS)[number];

@Entity('region')
export class Region {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'parent_id', type: 'uuid', nullable: true }) parentId!: string | null;
  @Column({ type: 'text' }) level!: RegionLevel;
  @Column({ type: 'text', unique: true }) code!: string;
  @Column({ type: 'text' }) name!: string;
  /** Materialised path of ids ("/<root>/<child>/.../<self>/"): a subtree is one prefix match. */
  @Column({ type: 'text' }) path!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('bureau')
export class Bureau {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'region_id', type: 'uuid' }) regionId!: string;
  @Column({ type: 'text' }) name!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
