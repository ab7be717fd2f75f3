import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
@Injectable()
class A { v = 1; }
@Injectable()
class B { constructor(readonly a: A) {} }
it('di works', async () => {
  const m = await Test.createTestingModule({ providers: [A, B] }).compile();
  expect(m.get(B).a.v).toBe(1);
});
