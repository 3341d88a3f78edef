import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity('signing_key')
export class SigningKey {
  /** 16 hex characters: the minisign key number, little-endian bytes. */
  @PrimaryColumn({ name: 'key_id', type: 'text' }) keyId!: string;
  @Column({ type: 'text' }) algorithm!: 'ed25519';
  @Column({ name: 'public_key', type: 'bytea' }) publicKey!: Buffer;
  @Column({ name: 'private_key_enc', type: 'bytea', nullable: true }) privateKeyEnc!: Buffer | null;
  @Column({ name: 'signed_by', type: 'text', nullable: true }) signedBy!: string | null;
  @Column({ type: 'bytea', nullable: true }) signature!: Buffer | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true }) retiredAt!: Date | null;
}
